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

#[tokio::test]
async fn the_schedule_sends_one_signed_alert_for_a_crossed_threshold() {
    let posts: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
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

    let dir = TempPath(std::env::temp_dir().join(harness::unique("spend-alerts")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let db = dir.0.join("gateway.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let now = Timestamp::now();
    let mut org = Organization::new("acme", Plan::Pro, now);
    org.spend.limits.daily_usd = Some(1.0);
    store.create_org(&org).await.unwrap();
    let update = AlertUpdate {
        threshold_percent: 50,
        webhook_url: hook,
        secret: Some(SECRET.to_owned()),
    };
    settings::set_alert(&store, org.clone(), Some(update), "test")
        .await
        .unwrap();
    // $0.60 of a $1.00 day: past the 50% threshold.
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
    drop(store);

    let function = harness::start(
        "spend-alerts",
        &[
            ("LLM_GATEWAY__STORE__PATH", db.display().to_string()),
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

    let delivered = posts.lock().unwrap().clone();
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

    // The next scheduled run finds the threshold already announced for this period.
    let Outcome::Response(again) = function.invoke(event).await else {
        panic!("no response; output:\n{}", function.process.output());
    };
    assert_eq!(again.json().unwrap()["sent"], 0);
    assert_eq!(posts.lock().unwrap().len(), 1);
}
