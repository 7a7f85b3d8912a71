use std::time::Duration;

use gateway_server::access::CONFIGURED_ORG_ID;
use gateway_store::Timestamp;
use gateway_store::model::query::ReceiptQuery;
use serde_json::json;

use gateway_fakes::CallOutcome;

use crate::helpers::{KEY, spawn_app, spawn_app_with, user};

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
    app.wait_for_calls("openai", 6).await;
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

#[tokio::test]
async fn requests_still_in_flight_after_the_grace_period_are_ended_with_a_reason() {
    let mut app = spawn_app_with("[server]\nshutdown_grace_ms = 300\n").await;
    let url = app.url.clone();
    let slow = tokio::spawn({
        let url = url.clone();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{url}/v1/chat/completions"))
                .bearer_auth(KEY)
                .json(&json!({
                    "model": "openai/gpt-4o",
                    // Long enough that counting its prompt outlasts the connection's end.
                    "messages": user(&format!("[[fake latency_ms=20000]] Too slow.{}", " Again.".repeat(30_000)))
                }))
                .send()
                .await
                .unwrap();
            let retry_after = response.headers().get("retry-after").cloned();
            (
                response.status(),
                retry_after,
                response.text().await.unwrap(),
            )
        }
    });
    let mut stream = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({
            "model": "openai/gpt-4o",
            "stream": true,
            "messages": user("[[fake words=200 chunk_delay_ms=100]] Too long.")
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut streamed = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    app.wait_for_calls("openai", 2).await;

    let provider = app.fakes.remove("openai").unwrap();
    let store = app.store.clone();
    let started = std::time::Instant::now();
    app.shutdown().await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "shutdown waited for the provider: {took:?}"
    );

    let (status, retry_after, body) = slow.await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.unwrap(), "1");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "gateway_shutting_down", "{body}");

    while let Some(chunk) = stream.chunk().await.unwrap() {
        streamed.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events = crate::helpers::sse_events(&streamed);
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "gateway_shutting_down", "{streamed}");
    assert!(
        !streamed.contains("[DONE]"),
        "an ended stream did not finish"
    );
    assert!(events.len() > 2, "the stream had started: {streamed}");
    // Both provider calls were cancelled with them.
    let outcomes: Vec<_> = provider.calls().iter().map(|c| c.outcome).collect();
    assert_eq!(
        outcomes,
        [
            CallOutcome::ClientDisconnected,
            CallOutcome::ClientDisconnected
        ]
    );
    // Shutdown returned with both in the request log, billed for what the provider had read and
    // generated: the prompts, and the stream's output so far.
    let logged = store
        .query_receipts(&ReceiptQuery::for_org(CONFIGURED_ORG_ID), Timestamp::now())
        .await
        .unwrap()
        .items;
    assert_eq!(logged.len(), 2, "{logged:?}");
    for record in &logged {
        assert_eq!(record.status, 503, "{record:?}");
        assert!(record.tokens.prompt > 0, "{record:?}");
        assert!(record.cost_usd > 0.0, "{record:?}");
    }
    let mut completions: Vec<u64> = logged.iter().map(|r| r.tokens.completion).collect();
    completions.sort_unstable();
    assert_eq!(completions[0], 0, "the slow request generated nothing yet");
    assert!(completions[1] > 0, "the stream had: {completions:?}");
}

#[tokio::test]
async fn a_client_opening_with_http2_is_served_over_http2_and_others_over_http1() {
    let app = spawn_app().await;
    let body = json!({"model": "openai/gpt-4o", "messages": user("Hello over HTTP/2.")});
    let http2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for (client, expected) in [
        (&http2, reqwest::Version::HTTP_2),
        (&app.client, reqwest::Version::HTTP_11),
    ] {
        let response = client
            .post(format!("{}/v1/chat/completions", app.url))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let version = response.version();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-llm-gateway"));
        let answer: serde_json::Value = response.json().await.unwrap();
        assert!(
            answer["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .contains("Hello over HTTP/2."),
            "{answer}"
        );
        assert_eq!(version, expected);
    }
}

#[tokio::test]
async fn shutting_down_closes_connections_that_sent_nothing_or_part_of_a_preface() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(&addr).await.unwrap();
    partial.write_all(b"PRI * HTTP/2").await.unwrap();
    // Both connections are accepted and waiting before the shutdown starts.
    tokio::time::sleep(Duration::from_millis(200)).await;

    tokio::time::timeout(Duration::from_secs(5), app.shutdown())
        .await
        .expect("shutdown waited on connections with no request in flight");
    for mut stream in [silent, partial] {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("the connection was closed");
        // Closed with the partial preface unread, the socket is reset rather than ended.
        match read {
            Ok(n) => assert_eq!(n, 0, "{rest:?}"),
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
        }
    }
}
