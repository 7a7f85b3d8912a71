use std::time::Duration;

use gateway_server::access::CONFIGURED_ORG_ID;
use gateway_store::Timestamp;
use gateway_store::model::query::ReceiptQuery;
use serde_json::json;

use crate::helpers::{KEY, spawn_app, user};

#[tokio::test]
async fn shutting_down_answers_and_logs_requests_in_flight_then_refuses_connections() {
    let app = spawn_app().await;
    let url = app.url.clone();
    // A client each, so each request has a connection of its own, whichever thread took it.
    let requests: Vec<_> = (0..6)
        .map(|n| {
            let url = url.clone();
            tokio::spawn(async move {
                let response = reqwest::Client::new()
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(KEY)
                    .json(&json!({
                        "model": "openai/gpt-4o",
                        "messages": user(&format!("[[fake latency_ms=1000]] Request {n}."))
                    }))
                    .send()
                    .await?;
                Ok::<_, reqwest::Error>((response.status(), response.text().await?))
            })
        })
        .collect();
    // Shut down once the provider has every request: all six are then in flight.
    for _ in 0..500 {
        if app.fake("openai").calls().len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        app.fake("openai").calls().len(),
        6,
        "the requests reached the provider"
    );

    let store = app.store.clone();
    app.shutdown().await;

    // Shutdown returns once the requests are answered and their receipts written.
    let logged = store
        .query_receipts(&ReceiptQuery::for_org(CONFIGURED_ORG_ID), Timestamp::now())
        .await
        .unwrap();
    assert_eq!(logged.items.len(), 6, "{:?}", logged.items);
    for (n, request) in requests.into_iter().enumerate() {
        let (status, body) = request
            .await
            .unwrap()
            .expect("answered before the gateway stopped");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(&format!("Request {n}.")), "{body}");
    }
    let after = reqwest::Client::new()
        .get(format!("{url}/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err(), "still answering after shutdown: {after:?}");
}
