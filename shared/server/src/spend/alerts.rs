//! The `spend-alerts` scheduled function: for every organisation with an alert, announce
//! each limit whose threshold its spend has crossed (once per threshold and period) and each
//! anomaly (once per episode), through the organisation's webhook, or the deployment's
//! `[spend.default_alert]` for an organisation that has none.
//!
//! [`evaluate`] is the whole function: `serve` runs it on an in-process timer
//! (`[spend] evaluate_every_secs`), the `spend-alerts` binary once per EventBridge Scheduler
//! event in AWS or once from the command line. "Once" holds across processes: an alert is
//! claimed with `Counters::add(marker, window, 1, limit 1)` before it is sent, so two
//! evaluations running together send it once; a claim whose delivery failed after every
//! retry is given back, and the next evaluation tries again.
//!
//! An anomaly episode starts when the current hour is anomalous (see [`super::anomaly`]) and
//! ends at the first evaluation where neither the current hour nor the previous one is.

use std::sync::Arc;

use bytes::Bytes;
use gateway_core::config::{DefaultAlertConfig, EnvSource, ProcessEnv, SpendConfig};
use gateway_store::model::id::new_id;
use gateway_store::model::org::Organization;
use gateway_store::model::spend::{SpendAlert, SpendSettings};
use gateway_store::{Store, Timestamp};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::anomaly::{self, Rule, Verdict};
use super::budget::{micros_to_usd, usd_to_micros};
use super::keys::{self, Metric};
use super::period::{self, Period};
use super::webhook::Webhooks;

const HOUR_MS: i64 = 3_600_000;
/// An episode marker outlives a forgotten episode by this much at most.
const EPISODE_MAX_MS: i64 = 30 * 86_400_000;

pub const THRESHOLD_EVENT: &str = "spend.threshold_crossed";
pub const ANOMALY_EVENT: &str = "spend.anomaly_detected";

/// What an evaluation needs; built once per process.
pub struct AlertContext {
    pub store: Arc<dyn Store>,
    pub webhooks: Webhooks,
    pub config: SpendConfig,
    /// `[spend.default_alert]`, for organisations without an alert of their own.
    pub default_alert: Option<SpendAlert>,
}

impl AlertContext {
    /// From the configuration: the store and an HTTP client for the webhooks.
    pub fn new(
        store: Arc<dyn Store>,
        config: &gateway_core::config::Config,
    ) -> anyhow::Result<Self> {
        let client = gateway_providers::http::client(&config.upstream)?;
        Ok(AlertContext {
            webhooks: Webhooks::new(client, store.clone(), &config.spend),
            store,
            config: config.spend.clone(),
            default_alert: default_alert(&config.spend.default_alert, &ProcessEnv)?,
        })
    }
}

/// The configured default alert, checked as an organisation's would be.
fn default_alert(
    config: &DefaultAlertConfig,
    env: &dyn EnvSource,
) -> anyhow::Result<Option<SpendAlert>> {
    if config.webhook_url.is_empty() {
        return Ok(None);
    }
    let secret =
        gateway_core::config::resolve_secret(&config.secret, env, "spend.default_alert.secret")?;
    let alert = SpendAlert {
        threshold_percent: config.threshold_percent,
        webhook_url: config.webhook_url.clone(),
        secret: secret.expose_secret().to_owned(),
    };
    SpendSettings {
        alerts: Some(alert.clone()),
        ..SpendSettings::default()
    }
    .validate()
    .map_err(|e| anyhow::anyhow!("[spend.default_alert]: {e}"))?;
    Ok(Some(alert))
}

/// The JSON body of every alert (documented in the README).
#[derive(Debug, Clone, Serialize)]
pub struct AlertBody {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// RFC 3339 UTC.
    pub created_at: String,
    pub org_id: String,
    pub org_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyDetails>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThresholdDetails {
    /// `daily_usd`, `weekly_usd` or `monthly_usd`.
    pub limit: &'static str,
    pub limit_usd: f64,
    pub threshold_percent: u8,
    pub spent_usd: f64,
    pub spent_percent: f64,
    /// `2026-11-26`, `2026-W48`, `2026-11`.
    pub period: String,
    pub period_start: String,
    pub period_end: String,
    pub time_zone: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnomalyDetails {
    /// `spend` (dollars) or `requests`.
    pub metric: Metric,
    pub hour_start: String,
    pub value: f64,
    pub baseline_hours: u32,
    pub baseline_median: f64,
    pub baseline_mad: f64,
    pub threshold: f64,
}

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub organisations: usize,
    pub sent: usize,
    pub failed: usize,
}

/// Evaluates every organisation that has an alert, at `now`.
pub async fn evaluate(context: &AlertContext, now: Timestamp) -> anyhow::Result<Evaluation> {
    let orgs = context.store.list_orgs().await?;
    let mut evaluation = Evaluation::default();
    for org in orgs {
        let Some(alert) = org
            .spend
            .alerts
            .clone()
            .or_else(|| context.default_alert.clone())
        else {
            continue;
        };
        evaluation.organisations += 1;
        for body in thresholds(context, &org, &alert, now).await {
            tally(&mut evaluation, body);
        }
        for body in anomalies(context, &org, &alert, now).await {
            tally(&mut evaluation, body);
        }
    }
    Ok(evaluation)
}

fn tally(evaluation: &mut Evaluation, delivered: bool) {
    if delivered {
        evaluation.sent += 1;
    } else {
        evaluation.failed += 1;
    }
}

/// Runs [`evaluate`] every `[spend] evaluate_every_secs` until the process ends.
pub fn spawn(context: AlertContext) {
    let every = std::time::Duration::from_secs(context.config.evaluate_every_secs.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match evaluate(&context, Timestamp::now()).await {
                Ok(e) if e.sent + e.failed > 0 => {
                    tracing::info!(sent = e.sent, failed = e.failed, "spend alerts evaluated");
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "evaluating spend alerts failed"),
            }
        }
    });
}

/// Threshold alerts: one per limited period whose spend reached the threshold.
async fn thresholds(
    context: &AlertContext,
    org: &Organization,
    alert: &SpendAlert,
    now: Timestamp,
) -> Vec<bool> {
    let tz = period::time_zone(&org.time_zone);
    let limits = org.spend.limits;
    let limited = [
        (Period::Day, limits.daily_usd),
        (Period::Week, limits.weekly_usd),
        (Period::Month, limits.monthly_usd),
    ];
    let mut outcomes = Vec::new();
    for (p, limit_usd) in limited {
        let Some(limit_usd) = limit_usd else { continue };
        let window = period::window(p, tz, now);
        let spent = match context
            .store
            .get(&keys::spend(p, &org.id), window.start)
            .await
        {
            Ok(spent) => spent,
            Err(error) => {
                tracing::warn!(%error, "reading spend for alerts failed");
                continue;
            }
        };
        let limit = usd_to_micros(limit_usd);
        let threshold = u128::from(limit) * u128::from(alert.threshold_percent) / 100;
        if limit == 0 || u128::from(spent) < threshold {
            continue;
        }
        let marker = keys::threshold_marker(p, alert.threshold_percent, &org.id);
        let expires = keys::spend_expiry(&window);
        if !claim(context, &marker, window.start, expires).await {
            continue;
        }
        let details = ThresholdDetails {
            limit: p.limit_name(),
            limit_usd,
            threshold_percent: alert.threshold_percent,
            spent_usd: micros_to_usd(spent),
            spent_percent: (spent as f64 / limit as f64 * 1e4).round() / 100.0,
            period: window.label.clone(),
            period_start: window.start.to_rfc3339(),
            period_end: window.end.to_rfc3339(),
            time_zone: org.time_zone.clone(),
        };
        let body = body(org, THRESHOLD_EVENT, now, Some(details), None);
        let delivered = send(context, org, alert, body).await;
        if !delivered {
            release(context, &marker, window.start, expires).await;
        }
        outcomes.push(delivered);
    }
    outcomes
}

/// Anomaly alerts: one per episode and metric.
async fn anomalies(
    context: &AlertContext,
    org: &Organization,
    alert: &SpendAlert,
    now: Timestamp,
) -> Vec<bool> {
    let hours = context.config.anomaly_baseline_hours.max(1);
    let current = period::hour_start(now);
    let mut outcomes = Vec::new();
    for metric in Metric::ALL {
        // The current hour, the previous one, and the baseline behind the previous one.
        let Some(series) = hourly_series(context, metric, &org.id, current, hours + 1).await else {
            continue;
        };
        let rule = Rule {
            sensitivity: context.config.anomaly_sensitivity,
            min_ratio: context.config.anomaly_min_ratio,
            floor: match metric {
                Metric::Spend => context.config.anomaly_min_usd,
                Metric::Requests => context.config.anomaly_min_requests as f64,
            },
        };
        let hours_len = hours as usize;
        let now_verdict = anomaly::judge(&series[1..=hours_len], series[0], rule);
        let previous_verdict = anomaly::judge(&series[2..], series[1], rule);
        let marker = keys::anomaly_marker(metric, &org.id);
        if now_verdict.anomalous {
            let expires = now.plus_millis(EPISODE_MAX_MS);
            if !claim(context, &marker, Timestamp(0), expires).await {
                continue;
            }
            let details = anomaly_details(metric, current, hours, &now_verdict);
            let body = body(org, ANOMALY_EVENT, now, None, Some(details));
            let delivered = send(context, org, alert, body).await;
            if !delivered {
                release(context, &marker, Timestamp(0), expires).await;
            }
            outcomes.push(delivered);
        } else if !previous_verdict.anomalous {
            end_episode(context, &marker).await;
        }
    }
    outcomes
}

/// `count + 1` values of `metric`, newest hour first: the hour of `current`, then earlier
/// ones. Dollars for spend. `None` when the store cannot be read.
async fn hourly_series(
    context: &AlertContext,
    metric: Metric,
    org_id: &str,
    current: Timestamp,
    count: u32,
) -> Option<Vec<f64>> {
    let key = keys::hourly(metric, org_id);
    let reads = (0..=i64::from(count)).map(|i| {
        let key = &key;
        async move {
            context
                .store
                .get(key, current.plus_millis(-i * HOUR_MS))
                .await
        }
    });
    let mut series = Vec::new();
    for read in futures::future::join_all(reads).await {
        match read {
            Ok(value) => series.push(match metric {
                Metric::Spend => micros_to_usd(value),
                Metric::Requests => value as f64,
            }),
            Err(error) => {
                tracing::warn!(%error, "reading hourly counters failed");
                return None;
            }
        }
    }
    Some(series)
}

fn anomaly_details(metric: Metric, hour: Timestamp, hours: u32, v: &Verdict) -> AnomalyDetails {
    let round = |x: f64| (x * 1e6).round() / 1e6;
    AnomalyDetails {
        metric,
        hour_start: hour.to_rfc3339(),
        value: round(v.value),
        baseline_hours: hours,
        baseline_median: round(v.median),
        baseline_mad: round(v.mad),
        threshold: round(v.threshold),
    }
}

fn body(
    org: &Organization,
    kind: &'static str,
    now: Timestamp,
    threshold: Option<ThresholdDetails>,
    anomaly: Option<AnomalyDetails>,
) -> AlertBody {
    AlertBody {
        id: new_id("alert"),
        kind,
        created_at: now.to_rfc3339(),
        org_id: org.id.clone(),
        org_name: org.name.clone(),
        threshold,
        anomaly,
    }
}

async fn send(
    context: &AlertContext,
    org: &Organization,
    alert: &SpendAlert,
    body: AlertBody,
) -> bool {
    let bytes = match serde_json::to_vec(&body) {
        Ok(bytes) => Bytes::from(bytes),
        Err(error) => {
            tracing::error!(%error, "cannot serialise an alert");
            return false;
        }
    };
    context
        .webhooks
        .deliver(org, alert, body.kind, &body.id, bytes)
        .await
}

/// Whether this process won the right to send the alert `marker` in `window`.
async fn claim(
    context: &AlertContext,
    marker: &str,
    window: Timestamp,
    expires: Timestamp,
) -> bool {
    match context.store.add(marker, window, 1, 1, expires).await {
        Ok(admission) => admission.admitted,
        Err(error) => {
            tracing::warn!(%error, "claiming an alert failed; it is not sent now");
            false
        }
    }
}

async fn release(context: &AlertContext, marker: &str, window: Timestamp, expires: Timestamp) {
    if let Err(error) = context.store.adjust(marker, window, -1, expires).await {
        tracing::warn!(%error, "giving back an alert claim failed");
    }
}

async fn end_episode(context: &AlertContext, marker: &str) {
    match context.store.get(marker, Timestamp(0)).await {
        Ok(0) => {}
        Ok(held) => {
            let delta = -i64::try_from(held).unwrap_or(i64::MAX);
            let expires = Timestamp::now().plus_millis(EPISODE_MAX_MS);
            if let Err(error) = context
                .store
                .adjust(marker, Timestamp(0), delta, expires)
                .await
            {
                tracing::warn!(%error, "ending an anomaly episode failed");
            }
        }
        Err(error) => tracing::warn!(%error, "reading an anomaly episode failed"),
    }
}
