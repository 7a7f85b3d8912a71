//! The store counter keys of spend: per organisation and period, per hour for the anomaly
//! detector, and the markers that make alerts happen once across processes.

use gateway_store::Timestamp;

use super::period::{Period, Window};

const DAY_MS: i64 = 86_400_000;

/// Micro-dollars spent in one period: `spend:day:<org>`, windowed by the period's start.
pub fn spend(period: Period, org_id: &str) -> String {
    format!("spend:{}:{org_id}", period.as_str())
}

/// Period counters outlive their period by a month, so last period's figures stay readable.
pub fn spend_expiry(window: &Window) -> Timestamp {
    window.end.plus_millis(31 * DAY_MS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Micro-dollars.
    Spend,
    Requests,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::Spend, Metric::Requests];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Spend => "spend",
            Metric::Requests => "requests",
        }
    }
}

/// One UTC hour of a metric: `hourly:spend:<org>`.
pub fn hourly(metric: Metric, org_id: &str) -> String {
    format!("hourly:{}:{org_id}", metric.as_str())
}

/// Hours are kept for the longest baseline (a week) and a day more.
pub fn hourly_expiry(hour: Timestamp) -> Timestamp {
    hour.plus_millis(8 * DAY_MS)
}

/// Claimed once per period and threshold: `alert:threshold:day:80:<org>`.
pub fn threshold_marker(period: Period, percent: u8, org_id: &str) -> String {
    format!("alert:threshold:{}:{percent}:{org_id}", period.as_str())
}

/// Held while an anomaly episode lasts: `alert:anomaly:spend:<org>`, in the window starting
/// at 0 (episodes are not calendar periods).
pub fn anomaly_marker(metric: Metric, org_id: &str) -> String {
    format!("alert:anomaly:{}:{org_id}", metric.as_str())
}
