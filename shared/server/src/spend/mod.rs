//! Spend: what requests cost, the limits an organisation sets on it, and the alerts that
//! warn before a limit runs out or when spending looks wrong.
//!
//! - [`period`]: calendar days, ISO weeks and months in the organisation's time zone.
//! - [`budget`]: worst-case cost, admission and reservation before the provider call,
//!   reconciliation with the actual cost after it.
//! - [`keys`]: the store counters that hold spend, hourly figures and alert markers.
//! - [`anomaly`]: the statistic that tells an hour far above the organisation's baseline.
//! - [`webhook`]: signed, retried, audited webhook deliveries.
//! - [`alerts`]: the `spend-alerts` scheduled function.
//! - [`report`]: spend and savings by period, day, model and key.
//! - [`settings`]: changing limits and alerts (CLI and admin API), audited.

pub mod alerts;
pub mod anomaly;
pub mod budget;
pub mod keys;
pub mod period;
pub mod report;
pub mod settings;
pub mod webhook;
