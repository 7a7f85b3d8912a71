//! Deleting what has outlived its retention from a local store: receipts past their TTL, counter
//! windows that have ended, audit events past their organisation's retention.
//!
//! Reads already skip expired rows, so this is about space: without it an SQLite file would keep
//! every request it ever logged. DynamoDB deletes expired items itself (its TTL attribute), so
//! `serve` runs this for the SQLite store only.

use std::sync::Arc;
use std::time::Duration;

use gateway_store::{Store, Timestamp};

/// How often expired rows are deleted; the first purge runs at start-up.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Purges `store` now and then every [`PURGE_EVERY`], in the background, for as long as the
/// runtime lives.
pub fn spawn(store: Arc<dyn Store>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            purge(store.as_ref()).await;
        }
    });
}

async fn purge(store: &dyn Store) {
    let now = Timestamp::now();
    let outcomes = [
        ("receipts", store.purge_expired_receipts(now).await),
        ("counter windows", store.purge_expired_counters(now).await),
        ("audit events", store.purge_expired_audit(now).await),
    ];
    for (what, outcome) in outcomes {
        match outcome {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, what, "expired rows deleted from the store"),
            Err(error) => tracing::warn!(%error, what, "could not delete expired rows"),
        }
    }
}
