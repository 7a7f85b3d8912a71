use std::time::Duration;

use serde_json::json;

use crate::helpers::{KEY, spawn_app, user};

#[tokio::test]
async fn shutting_down_lets_requests_in_flight_finish_then_refuses_connections() {
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
                        "messages": user(&format!("[[fake latency_ms=400]] Request {n}."))
                    }))
                    .send()
                    .await?;
                Ok::<_, reqwest::Error>((response.status(), response.text().await?))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;

    app.shutdown().await;

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
