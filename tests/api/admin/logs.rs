//! The request log and receipts over the admin API: every filter, newest first, cursor pages,
//! a bounded `limit`, the full receipt by request id, and another organisation's request as a
//! 404.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Admin, assert_error, call, json, new_org};
use crate::helpers::{TestApp, spawn_app, user};

/// Makes a key for `admin`'s organisation and sends one chat request per model; returns the
/// key id and the request ids, oldest first.
async fn traffic(app: &TestApp, admin: &Admin, models: &[&str]) -> (String, Vec<String>) {
    let (_, created) = json(
        call(
            app,
            Some(&admin.token),
            Method::POST,
            &format!("/orgs/{}/keys", admin.org_id),
            Some(json!({"name": "traffic"})),
        )
        .await,
    )
    .await;
    let secret = created["secret"].as_str().unwrap();
    let mut ids = Vec::new();
    for model in models {
        let response = app
            .client
            .post(format!("{}/v1/chat/completions", app.url))
            .bearer_auth(secret)
            .json(&json!({"model": model, "messages": user("hi")}))
            .send()
            .await
            .unwrap();
        ids.push(
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        response.bytes().await.unwrap();
        // Distinct arrival times keep "newest first" unambiguous.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (created["key"]["id"].as_str().unwrap().to_owned(), ids)
}

async fn logs(app: &TestApp, admin: &Admin, query: &str) -> (u16, Value) {
    json(
        call(
            app,
            Some(&admin.token),
            Method::GET,
            &format!("/orgs/{}/logs{query}", admin.org_id),
            None,
        )
        .await,
    )
    .await
}

/// The log once the background writer has stored `n` requests.
async fn wait_for(app: &TestApp, admin: &Admin, n: usize) -> Value {
    for _ in 0..100 {
        let (status, page) = logs(app, admin, "?limit=1000").await;
        assert_eq!(status, 200, "{page}");
        if page["data"].as_array().unwrap().len() >= n {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the request log never held {n} requests");
}

fn request_ids(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_request_log_is_searched_by_every_filter_newest_first_in_pages() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let (key_id, ids) = traffic(
        &app,
        &owner,
        &[
            "openai/gpt-4o-mini",
            "groq/llama-3.1-8b-instant",
            "openai/gpt-4o-mini",
            "openai/no-such-model",
        ],
    )
    .await;
    let all = wait_for(&app, &owner, 4).await;
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(request_ids(&all), newest_first);

    let (_, page) = logs(&app, &owner, "?model=openai/gpt-4o-mini").await;
    assert_eq!(request_ids(&page), [ids[2].as_str(), ids[0].as_str()]);
    let (_, page) = logs(&app, &owner, "?provider=groq").await;
    assert_eq!(request_ids(&page), [ids[1].as_str()]);
    let (_, page) = logs(&app, &owner, "?status=404").await;
    assert_eq!(request_ids(&page), [ids[3].as_str()]);
    let (_, page) = logs(&app, &owner, &format!("?key_id={key_id}&status=200")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let (_, page) = logs(&app, &owner, &format!("?request_id={}", ids[1])).await;
    assert_eq!(request_ids(&page), [ids[1].as_str()]);
    let (_, page) = logs(&app, &owner, "?until=2000-01-01T00:00:00Z").await;
    assert!(page["data"].as_array().unwrap().is_empty());
    let (_, page) = logs(&app, &owner, "?from=2000-01-01T00:00:00Z").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 4);

    // Pages of two: no overlap, no gap, the last without a cursor.
    let (_, first) = logs(&app, &owner, "?limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = logs(&app, &owner, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(second["next_cursor"], Value::Null);
    let mut paged = request_ids(&first);
    paged.extend(request_ids(&second));
    assert_eq!(paged, newest_first);

    for (query, param) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?from=yesterday", "from"),
        ("?cursor=%21%21", "cursor"),
    ] {
        let got = logs(&app, &owner, query).await;
        assert_eq!(got.0, 400, "{query}: {}", got.1);
        assert_eq!(got.1["error"]["param"], param, "{query}");
    }
    let got = logs(&app, &owner, "?status=abc").await;
    assert_error(&got, 400, "invalid_query");
    app.shutdown().await;
}

#[tokio::test]
async fn a_receipt_is_returned_whole_to_its_organisation_only() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let other = new_org(&app).await;
    let (_, ids) = traffic(&app, &owner, &["openai/gpt-4o-mini"]).await;
    let (status, receipt) = json(
        call(
            &app,
            Some(&owner.token),
            Method::GET,
            &format!("/orgs/{}/receipts/{}", owner.org_id, ids[0]),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["request_id"], ids[0].as_str());
    assert_eq!(receipt["model"], "openai/gpt-4o-mini");
    assert!(
        receipt["routing"].is_object() && receipt["execution"].is_object(),
        "{receipt}"
    );

    let got = json(
        call(
            &app,
            Some(&other.token),
            Method::GET,
            &format!("/orgs/{}/receipts/{}", other.org_id, ids[0]),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 404, "not_found");
    app.shutdown().await;
}
