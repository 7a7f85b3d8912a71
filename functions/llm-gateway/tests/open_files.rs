//! Open file descriptors: every request in flight holds two (the client's connection and the
//! provider's). `serve` raises its soft limit to the hard one, and a gateway that runs out of
//! descriptors all the same says so (503 `gateway_overloaded`) without counting it against the
//! provider: its circuit breaker stays closed, and the next request is answered.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

mod process;

use std::path::PathBuf;
use std::time::Duration;

use gateway_fakes::FakeServer;
use serde_json::Value;

const KEY: &str = "llm_gw_dev_0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";
const MODEL: &str = "slow/m";
/// Requests sent at once, each held by the provider for [`HELD_MS`]: with the two descriptors
/// each takes, more than a limit of [`LOW_LIMIT`] leaves room for.
const IN_FLIGHT: usize = 60;
const HELD_MS: u64 = 1_000;
const LOW_LIMIT: u64 = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_raises_a_low_soft_limit_to_the_hard_limit() {
    let setup = Setup::new("raised").await;
    let (_gateway, url) =
        process::serve_with_open_file_limit(&setup.config, &setup.dir, LOW_LIMIT, 4_096);
    let answers = setup.burst(&url).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "every request answered: {answers:?}"
    );
    assert_eq!(setup.fake.calls().len(), IN_FLIGHT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_open_files_is_the_gateways_overload_not_the_providers_failure() {
    let setup = Setup::new("exhausted").await;
    let (_gateway, url) =
        process::serve_with_open_file_limit(&setup.config, &setup.dir, LOW_LIMIT, LOW_LIMIT);
    let answers = setup.burst(&url).await;
    let overloaded = answers.iter().filter(|(status, _)| *status == 503).count();
    assert!(overloaded > 0, "the limit was reached: {answers:?}");
    for (status, body) in &answers {
        match status {
            200 => {}
            503 => {
                assert_eq!(body["error"]["code"], "gateway_overloaded", "{body}");
                assert_eq!(body["error"]["type"], "api_error", "{body}");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(message.contains("open files"), "{message}");
            }
            _ => panic!("neither answered nor overloaded: {status} {body}"),
        }
    }
    assert!(
        setup.fake.calls().len() < IN_FLIGHT,
        "the overloaded requests never reached the provider"
    );

    // More than `consecutive_failures` (5) requests failed, and the provider is not to blame.
    let health: Value = setup
        .client
        .get(format!("{url}/health/providers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let model = health["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == MODEL)
        .unwrap_or_else(|| panic!("{MODEL} in {health}"));
    assert_eq!(model["breaker"], "closed", "{health}");
    assert_eq!(model["stats"]["failures"], 0, "{health}");
    let (status, body) = setup.chat(&url, "Hello").await;
    assert_eq!(status, 200, "{body}");
}

struct Setup {
    fake: FakeServer,
    client: reqwest::Client,
    config: PathBuf,
    dir: PathBuf,
}

impl Setup {
    async fn new(name: &str) -> Setup {
        let fake = process::fake_provider().await;
        let (dir, config) = process::config_with_provider(
            &format!("open-files-{name}"),
            KEY,
            "slow",
            &fake,
            "[routing]\nfallback_enabled = false\n",
        );
        // Each connection closes after its answer, so the gateway gets its descriptors back at
        // once: idle keep-alive connections would hold them until the gateway's idle timeout.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Setup {
            fake,
            client,
            config,
            dir,
        }
    }

    /// [`IN_FLIGHT`] requests at once, each held by the provider; their statuses and bodies.
    async fn burst(&self, url: &str) -> Vec<(u16, Value)> {
        let prompt = format!("[[fake latency_ms={HELD_MS}]] Hello");
        futures::future::join_all((0..IN_FLIGHT).map(|_| self.chat(url, &prompt))).await
    }

    async fn chat(&self, url: &str, prompt: &str) -> (u16, Value) {
        process::chat(&self.client, url, KEY, MODEL, prompt).await
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
