//! The receipt of one request as the request log keeps it: who asked (organisation, key), when,
//! how it was routed and executed, tokens, cost, fallback attempts and the outcome. The full
//! client-facing receipt rides along in `details`; the other fields are the ones logs are
//! searched by.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenCounts {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
}

/// One provider call that failed before the one that answered (or before giving up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackAttempt {
    pub provider: String,
    pub model: String,
    /// What went wrong, as a label (`rate_limited`, `timeout`, `upstream_5xx`), never a body.
    pub error: String,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    /// The `x-request-id` the client saw; unique, so a re-sent batch overwrites, never doubles.
    pub request_id: String,
    pub org_id: String,
    pub key_id: Option<String>,
    pub at: Timestamp,
    /// `direct` or `auto` (and later strategies).
    pub routing_decision: String,
    pub provider: String,
    /// `provider/model` as routed.
    pub model: String,
    /// The HTTP status the client received.
    pub status: u16,
    pub latency_ms: u64,
    pub tokens: TokenCounts,
    pub cost_usd: f64,
    pub fallback_attempts: Vec<FallbackAttempt>,
    /// The receipt as returned to the client (candidates considered, savings, cache, …).
    pub details: ReceiptDetails,
    /// After this the record is gone: never returned, and purged.
    pub expires_at: Timestamp,
}

/// The client-facing receipt kept as the JSON text it was written as: a log entry is written
/// far more often than it is read, so it is serialised once and never built as a tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReceiptDetails(Box<RawValue>);

impl ReceiptDetails {
    /// No details: a request that ended before it was routed.
    pub fn none() -> Self {
        ReceiptDetails(RawValue::NULL.to_owned())
    }

    /// `value` serialised; nothing when it cannot be.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Self {
        serde_json::value::to_raw_value(value).map_or_else(|_| Self::none(), ReceiptDetails)
    }

    pub fn is_none(&self) -> bool {
        self.0.get() == "null"
    }

    /// The details as a JSON tree, for reading into.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl Default for ReceiptDetails {
    fn default() -> Self {
        Self::none()
    }
}

impl PartialEq for ReceiptDetails {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}
