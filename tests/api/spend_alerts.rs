//! The `spend-alerts` evaluation against a webhook receiver started here: one signed alert
//! per threshold and period, delivery after a receiver fails and recovers, and one anomaly
//! alert per episode.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use gateway_core::config::Config;
use gateway_server::access::CONFIGURED_ORG_ID;
use gateway_server::spend::alerts::{self, AlertContext, Evaluation};
use gateway_server::spend::keys::{self, Metric};
use gateway_server::spend::period::{self, Period};
use gateway_server::spend::settings::{self, AlertUpdate};
use gateway_store::model::query::AuditQuery;
use gateway_store::{Store, Timestamp};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, spawn_app_with, user};

const HOUR_MS: i64 = 3_600_000;

/// A webhook receiver that answers 500 to its first `failures` posts, then 200.
struct Receiver {
    url: String,
    /// Every post, failed or not: headers and body.
    posts: Arc<Mutex<Vec<(HeaderMap, Bytes, u16)>>>,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let posts: Arc<Mutex<Vec<(HeaderMap, Bytes, u16)>>> = Arc::default();
        let seen = posts.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let seen = seen.clone();
                async move {
                    let mut seen = seen.lock().unwrap();
                    let status = if seen.len() < failures { 500 } else { 200 };
                    seen.push((headers, body, status));
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, posts }
    }

    /// The bodies of the posts answered 200.
    fn delivered(&self) -> Vec<(HeaderMap, Value)> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, status)| *status == 200)
            .map(|(h, b, _)| (h.clone(), serde_json::from_slice(b).unwrap()))
            .collect()
    }

    fn attempts(&self) -> usize {
        self.posts.lock().unwrap().len()
    }
}

fn context(app: &TestApp, spend_toml: &str) -> AlertContext {
    let config =
        Config::from_toml(&format!("[spend]\nwebhook_backoff_ms = 20\n{spend_toml}")).unwrap();
    AlertContext::new(app.store.clone(), &config).unwrap()
}

/// Points the configured organisation's alert at `receiver`; returns the generated secret.
async fn alert_to(app: &TestApp, receiver: &Receiver, threshold_percent: u8) -> String {
    let org = app.store.get_org(CONFIGURED_ORG_ID).await.unwrap();
    let update = AlertUpdate {
        threshold_percent,
        webhook_url: receiver.url.clone(),
        secret: None,
    };
    let (_, secret) = settings::set_alert(app.store.as_ref(), org, Some(update), "test")
        .await
        .unwrap();
    secret.unwrap()
}

async fn deliveries_audited(store: &dyn Store) -> Vec<(String, bool)> {
    let mut query = AuditQuery::for_org(CONFIGURED_ORG_ID);
    query.action = Some("spend.webhook_delivery".to_owned());
    let page = store.query_audit(&query, Timestamp::now()).await.unwrap();
    page.items
        .iter()
        .map(|e| (e.target.clone(), e.details["delivered"].as_bool().unwrap()))
        .collect()
}

/// Spends about half of a $0.01 daily limit with real requests and waits for the counter.
async fn spend_past_half_of_a_cent(app: &TestApp) {
    let mut org = app.store.get_org(CONFIGURED_ORG_ID).await.unwrap();
    org.spend.limits.daily_usd = Some(0.01);
    app.store.update_org(&org).await.unwrap();
    let body = json!({
        "model": "openai/gpt-4o",
        "max_tokens": 100,
        "messages": user("[[fake words=400]] Tell me a long story."),
    });
    for _ in 0..6 {
        assert_eq!(app.chat(&body).await.status(), 200);
    }
    let day = period::window(Period::Day, period::time_zone("UTC"), Timestamp::now());
    let key = keys::spend(Period::Day, CONFIGURED_ORG_ID);
    for _ in 0..200 {
        if app.store.get(&key, day.start).await.unwrap() >= 5_000 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("spend did not reach half of the limit");
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_crossed_threshold_is_announced_once_per_period_with_a_valid_signature() {
    let app = spawn_app_with("[auth]\nkey_cache_secs = 0\n").await;
    let receiver = Receiver::start(0).await;
    let secret = alert_to(&app, &receiver, 50).await;
    let context = context(&app, "");

    // Under the threshold: nothing.
    let nothing = alerts::evaluate(&context, Timestamp::now()).await.unwrap();
    assert_eq!(
        nothing,
        Evaluation {
            organisations: 1,
            sent: 0,
            failed: 0
        }
    );

    spend_past_half_of_a_cent(&app).await;
    let first = alerts::evaluate(&context, Timestamp::now()).await.unwrap();
    let again = alerts::evaluate(&context, Timestamp::now()).await.unwrap();
    assert_eq!((first.sent, again.sent), (1, 0));

    let posts = receiver.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "one post per threshold and period");
    let (headers, raw, _) = &posts[0];
    assert_eq!(
        headers["x-llm-gateway-signature"],
        sign(&secret, raw).as_str()
    );
    assert!(
        headers["x-llm-gateway-timestamp"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    assert_eq!(headers["x-llm-gateway-event"], "spend.threshold_crossed");
    let body: Value = serde_json::from_slice(raw).unwrap();
    assert_eq!(
        headers["x-llm-gateway-delivery"],
        body["id"].as_str().unwrap()
    );
    assert_eq!(body["type"], "spend.threshold_crossed");
    assert_eq!(body["org_id"], CONFIGURED_ORG_ID);
    let threshold = &body["threshold"];
    assert_eq!(threshold["limit"], "daily_usd");
    assert_eq!(threshold["threshold_percent"], 50);
    assert_eq!(threshold["limit_usd"], 0.01);
    assert!(threshold["spent_usd"].as_f64().unwrap() >= 0.005, "{body}");
    assert_eq!(threshold["time_zone"], "UTC");

    // A signature made with another secret does not match.
    assert_ne!(
        headers["x-llm-gateway-signature"],
        sign("another secret!!", raw).as_str()
    );
    let audited = deliveries_audited(app.store.as_ref()).await;
    assert_eq!(audited, [(body["id"].as_str().unwrap().to_owned(), true)]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_fails_and_recovers_gets_the_alert_once() {
    let app = spawn_app_with("[auth]\nkey_cache_secs = 0\n").await;
    // Three failures: the first evaluation's two attempts, then the second's first.
    let receiver = Receiver::start(3).await;
    alert_to(&app, &receiver, 50).await;
    let context = context(&app, "webhook_attempts = 2\n");
    spend_past_half_of_a_cent(&app).await;

    let first = alerts::evaluate(&context, Timestamp::now()).await.unwrap();
    assert_eq!((first.sent, first.failed), (0, 1));
    assert_eq!(receiver.attempts(), 2);
    // The failed alert was given back: the next evaluation retries it, and it gets through.
    let second = alerts::evaluate(&context, Timestamp::now()).await.unwrap();
    assert_eq!((second.sent, second.failed), (1, 0));
    let third = alerts::evaluate(&context, Timestamp::now()).await.unwrap();
    assert_eq!((third.sent, third.failed), (0, 0));
    assert_eq!(receiver.attempts(), 4);
    assert_eq!(receiver.delivered().len(), 1);

    // Every attempt is in the audit log; retries within an evaluation keep the delivery id.
    let audited = deliveries_audited(app.store.as_ref()).await;
    assert_eq!(audited.len(), 4);
    assert_eq!(audited.iter().filter(|(_, ok)| *ok).count(), 1);
    let posts = receiver.posts.lock().unwrap().clone();
    let ids: Vec<&str> = posts
        .iter()
        .map(|(h, _, _)| h["x-llm-gateway-delivery"].to_str().unwrap())
        .collect();
    assert_eq!(ids[2], ids[3], "a retry keeps its delivery id");
    app.shutdown().await;
}

#[tokio::test]
async fn an_anomaly_is_announced_once_per_episode() {
    let app = spawn_app_with("[auth]\nkey_cache_secs = 0\n").await;
    let receiver = Receiver::start(0).await;
    alert_to(&app, &receiver, 80).await;
    let context = context(&app, "anomaly_min_requests = 5\nanomaly_min_usd = 1000\n");

    // Keep the burst and its evaluation in one UTC hour.
    let into_hour = Timestamp::now().millis().rem_euclid(HOUR_MS);
    if into_hour > HOUR_MS - 30_000 {
        tokio::time::sleep(std::time::Duration::from_millis(
            (HOUR_MS - into_hour + 1_000) as u64,
        ))
        .await;
    }
    // A steady baseline: one request in each of the last 25 hours.
    let key = keys::hourly(Metric::Requests, CONFIGURED_ORG_ID);
    let hour = period::hour_start(Timestamp::now());
    for back in 1..=25 {
        let at = hour.plus_millis(-back * HOUR_MS);
        app.store
            .add(&key, at, 1, u64::MAX, at.plus_days(8))
            .await
            .unwrap();
    }
    let quiet = alerts::evaluate(&context, Timestamp::now()).await.unwrap();
    assert_eq!(quiet.sent, 0);

    // A burst of 8 requests this hour: above max(median 1, 3 × median, floor 5).
    let body = json!({"model": "openai/gpt-4o-mini", "messages": user("hi")});
    for _ in 0..8 {
        assert_eq!(app.chat(&body).await.status(), 200);
    }
    for _ in 0..200 {
        if app.store.get(&key, hour).await.unwrap() >= 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let now = Timestamp::now();
    assert_eq!(alerts::evaluate(&context, now).await.unwrap().sent, 1);
    assert_eq!(
        alerts::evaluate(&context, now).await.unwrap().sent,
        0,
        "same episode"
    );
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), 1);
    let anomaly = &delivered[0].1["anomaly"];
    assert_eq!(delivered[0].1["type"], "spend.anomaly_detected");
    assert_eq!(anomaly["metric"], "requests");
    assert_eq!(anomaly["value"], 8.0);
    assert_eq!(anomaly["baseline_median"], 1.0);
    assert_eq!(anomaly["threshold"], 5.0);

    // Two hours later both that hour and the one before are quiet: the episode has ended,
    // and a new burst is a new episode.
    let later = now.plus_millis(2 * HOUR_MS);
    assert_eq!(alerts::evaluate(&context, later).await.unwrap().sent, 0);
    let later_hour = period::hour_start(later);
    app.store
        .add(&key, later_hour, 9, u64::MAX, later_hour.plus_days(8))
        .await
        .unwrap();
    assert_eq!(alerts::evaluate(&context, later).await.unwrap().sent, 1);
    assert_eq!(receiver.delivered().len(), 2);
    app.shutdown().await;
}
