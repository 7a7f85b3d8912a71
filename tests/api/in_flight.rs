//! `[server] max_in_flight`: requests past the limit are refused at once, and a request holds
//! its place until its response is finished, streams included.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{KEY, TestApp, spawn_app_with, user};

async fn app_allowing(max: usize) -> TestApp {
    spawn_app_with(&format!("[server]\nmax_in_flight = {max}\n")).await
}

/// A chat request on a connection of its own.
async fn chat(url: &str, content: &str, stream: bool) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({ "model": "openai/gpt-4o", "messages": user(content), "stream": stream }))
        .send()
        .await
        .unwrap()
}

async fn assert_refused(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "gateway_overloaded", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_in_flight"),
        "{body}"
    );
}

#[tokio::test]
async fn requests_past_the_limit_are_refused_until_one_finishes() {
    let app = app_allowing(2).await;
    let slow: Vec<_> = (0..2)
        .map(|n| {
            let url = app.url.clone();
            tokio::spawn(async move {
                let response =
                    chat(&url, &format!("[[fake latency_ms=1500]] Slow {n}."), false).await;
                response.status()
            })
        })
        .collect();
    app.wait_for_calls("openai", 2).await;

    assert_refused(chat(&app.url, "One too many.", false).await).await;
    assert_eq!(
        app.fake("openai").calls().len(),
        2,
        "a refused request reaches no provider"
    );
    // Requests outside /v1 are never counted.
    let health = reqwest::get(format!("{}/health", app.url)).await.unwrap();
    assert_eq!(health.status(), 200);

    for request in slow {
        assert_eq!(request.await.unwrap(), 200);
    }
    let after = chat(&app.url, "After the slow ones.", false).await;
    assert_eq!(after.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn a_stream_holds_its_place_until_it_ends_or_its_client_leaves() {
    let app = app_allowing(1).await;
    let mut stream = chat(
        &app.url,
        "[[fake words=6 chunk_delay_ms=150]] Stream.",
        true,
    )
    .await;
    assert_eq!(stream.status(), 200);
    assert!(
        stream.chunk().await.unwrap().is_some(),
        "the stream started"
    );
    assert_refused(chat(&app.url, "While streaming.", false).await).await;
    while stream.chunk().await.unwrap().is_some() {}
    assert_eq!(
        chat(&app.url, "After the stream.", false).await.status(),
        200
    );

    // A client that leaves mid-stream gives its place back.
    let mut left = chat(&app.url, "[[fake words=50 chunk_delay_ms=100]] Left.", true).await;
    assert!(left.chunk().await.unwrap().is_some());
    drop(left);
    let mut status = 0;
    for _ in 0..100 {
        status = chat(&app.url, "After the client left.", false)
            .await
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        status, 200,
        "the place of a stream whose client left was released"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn without_the_setting_nothing_is_refused() {
    let app = spawn_app_with("").await;
    let requests: Vec<_> = (0..8)
        .map(|n| {
            let url = app.url.clone();
            tokio::spawn(async move {
                chat(
                    &url,
                    &format!("[[fake latency_ms=300]] Request {n}."),
                    false,
                )
                .await
                .status()
            })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    app.shutdown().await;
}
