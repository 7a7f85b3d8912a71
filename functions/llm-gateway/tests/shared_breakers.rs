//! Circuit breakers hold across gateway processes: two `llm-gateway serve` processes on one store
//! (an SQLite file; a DynamoDB table on the moto server `./tests/run.sh` starts) call one fake
//! provider. Failures through one process open the breaker for the other, which then refuses the
//! model without calling it; after the cooldown exactly one probe goes out across both; an admin
//! reset on one process closes the breaker for the other.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

mod process;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway_fakes::FakeServer;
use serde_json::{Value, json};

const KEY: &str = "llm_gw_dev_b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4";
/// Where `./tests/run.sh` puts the moto server's URL.
const URL_VAR: &str = "LLM_GATEWAY_TEST_DYNAMODB_URL";
const MODEL: &str = "flaky/m";
const COOLDOWN_MS: u64 = 1_500;
const REFRESH_MS: u64 = 100;
/// How long a test waits for a breaker to reach a state before it fails.
const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_sqlite_file_share_their_breakers() {
    // Both processes open `gateway.db` in the same data directory.
    breakers_are_shared_by_two_processes("sqlite", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_dynamodb_table_share_their_breakers() {
    let endpoint = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!("{URL_VAR} is not set: this test needs the moto server ./tests/run.sh starts")
    });
    let table = format!("breakers-{}", nanos());
    let store = format!(
        "[store]\nbackend = \"dynamodb\"\n\n[store.dynamodb]\ntable = \"{table}\"\n\
         region = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\naccess_key_id = \"testing\"\n\
         secret_access_key = \"testing\"\ncreate_table = true\n"
    );
    breakers_are_shared_by_two_processes("dynamodb", &store).await;
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

struct Gateways {
    a: String,
    b: String,
    fake: FakeServer,
    client: reqwest::Client,
    config: PathBuf,
    dir: PathBuf,
}

async fn breakers_are_shared_by_two_processes(name: &str, store_section: &str) {
    let fake = process::fake_provider().await;
    let dir = std::env::temp_dir().join(format!("llm-gateway-breakers-{name}-{}", nanos()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[[auth.keys]]\nname = \"tests\"\nsecret = \"{KEY}\"\n\n\
             [providers.flaky]\nkind = \"openai_compatible\"\nbase_url = \"{}\"\nmodels = [\"m\"]\n\n\
             [routing]\nfallback_enabled = false\n\n\
             [routing.breaker]\nconsecutive_failures = 2\ncooldown_ms = {COOLDOWN_MS}\n\
             refresh_ms = {REFRESH_MS}\n\n{store_section}",
            fake.base_url()
        ),
    )
    .unwrap();
    // One after the other: the first creates the table (or the file's schema).
    let (_a, a) = process::serve_configured(&config, &dir);
    let (_b, b) = process::serve_configured(&config, &dir);
    let gateways = Gateways {
        a,
        b,
        fake,
        client: reqwest::Client::new(),
        config,
        dir,
    };
    failures_through_one_process_open_the_breaker_for_the_other(&gateways).await;
    after_the_cooldown_one_probe_goes_out_across_both(&gateways).await;
    an_admin_reset_on_one_process_closes_the_breaker_for_the_other(&gateways).await;
    let _ = std::fs::remove_dir_all(&gateways.dir);
}

async fn failures_through_one_process_open_the_breaker_for_the_other(g: &Gateways) {
    for _ in 0..2 {
        assert_eq!(g.chat(&g.a, "[[fake status=500]] Hello").await.0, 502);
    }
    assert_eq!(g.fake.calls().len(), 2);
    g.wait_for_breaker(&g.b, "open").await;
    let (status, body) = g.chat(&g.b, "Hello").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "circuit_open");
    assert_eq!(g.fake.calls().len(), 2, "an open breaker calls nobody");
}

async fn after_the_cooldown_one_probe_goes_out_across_both(g: &Gateways) {
    g.wait_for_breaker(&g.a, "half_open").await;
    g.wait_for_breaker(&g.b, "half_open").await;
    // Sent together, and slow to answer, so that both processes ask for the one probe slot.
    let prompt = "[[fake latency_ms=500]] Hello";
    let (from_a, from_b) = tokio::join!(g.chat(&g.a, prompt), g.chat(&g.b, prompt));
    let mut statuses = [from_a.0, from_b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 503], "{} {}", from_a.1, from_b.1);
    let refused = if from_a.0 == 503 {
        &from_a.1
    } else {
        &from_b.1
    };
    assert_eq!(refused["error"]["code"], "circuit_open");
    assert_eq!(g.fake.calls().len(), 3, "one probe across both processes");
    // The probe succeeded: closed everywhere.
    g.wait_for_breaker(&g.a, "closed").await;
    g.wait_for_breaker(&g.b, "closed").await;
    assert_eq!(g.chat(&g.b, "Hello").await.0, 200);
    assert_eq!(g.fake.calls().len(), 4);
}

async fn an_admin_reset_on_one_process_closes_the_breaker_for_the_other(g: &Gateways) {
    // Opened through B this time.
    for _ in 0..2 {
        assert_eq!(g.chat(&g.b, "[[fake status=503]] Hello").await.0, 502);
    }
    g.wait_for_breaker(&g.a, "open").await;
    assert_eq!(g.chat(&g.a, "Hello").await.0, 503);
    assert_eq!(g.fake.calls().len(), 6);

    let token = owner_token(&g.config, &g.dir);
    let me: Value = g
        .client
        .get(format!("{}/admin/v1/me", g.a))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = me["org_id"].as_str().expect("the member's organisation");
    let listed: Value = g
        .client
        .get(format!("{}/admin/v1/orgs/{org}/routing/health", g.a))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(breaker_in(&listed), "open", "{listed}");
    let reset = g
        .client
        .post(format!(
            "{}/admin/v1/orgs/{org}/routing/breakers/reset",
            g.a
        ))
        .bearer_auth(&token)
        .json(&json!({"model": MODEL}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    let reset: Value = reset.json().await.unwrap();
    assert_eq!(reset["breaker"], "closed");

    g.wait_for_breaker(&g.b, "closed").await;
    assert_eq!(g.chat(&g.b, "Hello").await.0, 200);
    assert_eq!(g.fake.calls().len(), 7);
}

/// An organisation and its owner made with the CLI on the gateways' store; the owner's admin
/// token.
fn owner_token(config: &Path, dir: &Path) -> String {
    process::cli(
        config,
        dir,
        &["org", "create", "--name", "acme", "--plan", "pro"],
    );
    let created = process::cli(
        config,
        dir,
        &[
            "member",
            "create",
            "--org",
            "acme",
            "--email",
            "ops@example.com",
            "--role",
            "owner",
        ],
    );
    created
        .lines()
        .find_map(|l| l.strip_prefix("admin token: "))
        .expect("the token is printed")
        .to_owned()
}

/// The model's breaker in a `{"models": [...]}` listing (`closed` when it is not listed).
fn breaker_in(listing: &Value) -> String {
    listing["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == MODEL)
        .and_then(|m| m["breaker"].as_str())
        .unwrap_or("closed")
        .to_owned()
}

impl Gateways {
    async fn chat(&self, url: &str, prompt: &str) -> (u16, Value) {
        process::chat(&self.client, url, KEY, MODEL, prompt).await
    }

    /// Polls `GET /health/providers` until the model's breaker is in `state`.
    async fn wait_for_breaker(&self, url: &str, state: &str) {
        let started = Instant::now();
        loop {
            let listing: Value = self
                .client
                .get(format!("{url}/health/providers"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let now = breaker_in(&listing);
            if now == state {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{url}: the breaker stayed {now}, not {state}"
            );
            tokio::time::sleep(Duration::from_millis(REFRESH_MS / 2)).await;
        }
    }
}
