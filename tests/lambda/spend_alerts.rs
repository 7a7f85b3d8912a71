//! `spend-alerts`: the scheduler's event, spend read from the store, the signed webhook sent to
//! a receiver started here, the evaluation answered to the runtime.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::routing::post;
use bytes::Bytes;
use gateway_server::spend::keys;
use gateway_server::spend::period::{self, Period};
use gateway_server::spend::settings::{self, AlertUpdate};
use gateway_store::model::org::{Organization, Plan};
use gateway_store::sqlite::SqliteStore;
use gateway_store::{Counters, OrgStore, Timestamp};
use gateway_tests::runtime_api::Outcome;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::harness::{self, TempPath};

const SECRET: &str = "whsec_lambda_test_secret";

type Posts = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A webhook receiver on loopback: its URL and what it was sent.
async fn receiver() -> (String, Posts) {
    let posts: Posts = Arc::default();
    let seen = posts.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move { seen.lock().unwrap().push((headers, body)) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    (hook, posts)
}

/// A store with `acme`, limited to $1.00 a day and $0.60 spent today.
async fn store_over_threshold(dir: &TempPath) -> (SqliteStore, Organization) {
    std::fs::create_dir_all(&dir.0).unwrap();
    let store = SqliteStore::open(&dir.0.join("gateway.db")).await.unwrap();
    let now = Timestamp::now();
    let mut org = Organization::new("acme", Plan::Pro, now);
    org.spend.limits.daily_usd = Some(1.0);
    store.create_org(&org).await.unwrap();
    let day = period::window(Period::Day, period::time_zone("UTC"), now);
    store
        .adjust(
            &keys::spend(Period::Day, &org.id),
            day.start,
            600_000,
            keys::spend_expiry(&day),
        )
        .await
        .unwrap();
    (store, org)
}

fn assert_signed_threshold_alert(delivered: &[(HeaderMap, Bytes)], org: &Organization) {
    assert_eq!(delivered.len(), 1);
    let (headers, body) = &delivered[0];
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(headers["x-llm-gateway-signature"], expected.as_str());
    let alert: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(alert["type"], "spend.threshold_crossed", "{alert}");
    assert_eq!(alert["org_id"], org.id.as_str());
    assert_eq!(alert["threshold"]["limit"], "daily_usd");
}

#[tokio::test]
async fn the_schedule_sends_one_signed_alert_for_a_crossed_threshold() {
    let (hook, posts) = receiver().await;
    let dir = TempPath(std::env::temp_dir().join(harness::unique("spend-alerts")));
    let (store, org) = store_over_threshold(&dir).await;
    let update = AlertUpdate {
        threshold_percent: 50,
        webhook_url: hook,
        secret: Some(SECRET.to_owned()),
    };
    settings::set_alert(&store, org.clone(), Some(update), "test")
        .await
        .unwrap();
    drop(store);

    let function = harness::start(
        "spend-alerts",
        &[
            (
                "LLM_GATEWAY__STORE__PATH",
                dir.0.join("gateway.db").display().to_string(),
            ),
            ("LLM_GATEWAY__SPEND__WEBHOOK_BACKOFF_MS", "20".to_owned()),
        ],
    )
    .await;
    let event = harness::event("spend-alerts-schedule.json");
    let Outcome::Response(response) = function.invoke(event.clone()).await else {
        panic!("no response; output:\n{}", function.process.output());
    };
    let answer = response.json().unwrap();
    assert_eq!(answer["sent"], 1, "{answer}");
    assert_eq!(answer["failed"], 0, "{answer}");
    assert_signed_threshold_alert(&posts.lock().unwrap(), &org);

    // The next scheduled run finds the threshold already announced for this period.
    let Outcome::Response(again) = function.invoke(event).await else {
        panic!("no response; output:\n{}", function.process.output());
    };
    assert_eq!(again.json().unwrap()["sent"], 0);
    assert_eq!(posts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_organisation_without_an_alert_uses_the_stacks_default_webhook() {
    let (hook, posts) = receiver().await;
    let dir = TempPath(std::env::temp_dir().join(harness::unique("spend-alerts")));
    let (store, org) = store_over_threshold(&dir).await;
    drop(store);
    let db = dir.0.join("gateway.db").display().to_string();

    // The template's parameters arrive as these variables; 60% is under a 70% default.
    let mut env = vec![
        ("LLM_GATEWAY__STORE__PATH", db),
        ("LLM_GATEWAY__SPEND__DEFAULT_ALERT__WEBHOOK_URL", hook),
        (
            "LLM_GATEWAY__SPEND__DEFAULT_ALERT__SECRET",
            SECRET.to_owned(),
        ),
        (
            "LLM_GATEWAY__SPEND__DEFAULT_ALERT__THRESHOLD_PERCENT",
            "70".to_owned(),
        ),
    ];
    let event = harness::event("spend-alerts-schedule.json");
    let function = harness::start("spend-alerts", &env).await;
    let Outcome::Response(response) = function.invoke(event.clone()).await else {
        panic!("no response; output:\n{}", function.process.output());
    };
    assert_eq!(response.json().unwrap()["sent"], 0);
    drop(function);

    env[3].1 = "50".to_owned();
    let function = harness::start("spend-alerts", &env).await;
    let Outcome::Response(response) = function.invoke(event).await else {
        panic!("no response; output:\n{}", function.process.output());
    };
    let answer = response.json().unwrap();
    assert_eq!(
        (answer["organisations"].as_u64(), answer["sent"].as_u64()),
        (Some(1), Some(1)),
        "{answer}"
    );
    assert_signed_threshold_alert(&posts.lock().unwrap(), &org);
}

#[test]
fn a_default_webhook_without_a_usable_secret_stops_the_function_with_a_clear_error() {
    let dir = TempPath(std::env::temp_dir().join(harness::unique("spend-alerts")));
    let binary = gateway_tests::lambda_process::binary_dir()
        .unwrap()
        .join("spend-alerts");
    let output = std::process::Command::new(binary)
        .env(
            "LLM_GATEWAY__SPEND__DEFAULT_ALERT__WEBHOOK_URL",
            "https://example.com/hook",
        )
        .env("LLM_GATEWAY__SPEND__DEFAULT_ALERT__SECRET", "short")
        .env("LLM_GATEWAY_DATA_DIR", &dir.0)
        .arg("--once")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[spend.default_alert]") && stderr.contains("at least 16 characters"),
        "{stderr}"
    );
}
