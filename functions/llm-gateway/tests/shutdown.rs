//! Stopping `serve`: the first SIGTERM lets requests in flight finish (up to
//! `[server] shutdown_grace_ms`); a second one ends them at once, each with a reason.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

mod process;

use std::time::Duration;

const KEY: &str = "llm_gw_dev_0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stop_signal_ends_the_requests_in_flight_at_once() {
    let fake = process::fake_provider().await;
    let (dir, config) = process::config_with_provider(
        "shutdown",
        KEY,
        "local",
        &fake,
        "[server]\nshutdown_grace_ms = 60000\n",
    );
    let (mut gateway, url) = process::serve_configured(&config, &dir);
    let slow = tokio::spawn(async move {
        let client = reqwest::Client::new();
        process::chat(
            &client,
            &url,
            KEY,
            "local/m",
            "[[fake latency_ms=30000]] Slow.",
        )
        .await
    });
    for _ in 0..500 {
        if !fake.calls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.calls().len(), 1, "the request reached the provider");

    gateway.signal("TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !slow.is_finished(),
        "within the grace period the request is still being answered"
    );

    gateway.signal("TERM");
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), slow)
        .await
        .expect("the second signal ends the request")
        .unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "gateway_shutting_down", "{body}");
    assert!(
        gateway.exits_within(Duration::from_secs(5)),
        "the gateway exits"
    );
}
