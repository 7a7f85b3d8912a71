//! Provider health: circuit breakers and live statistics per model, fed by real traffic and
//! read by the router.
//!
//! Everything goes through [`HealthStore`], so the in-process store used today
//! ([`InMemoryHealth`]) can be replaced by one shared across processes without touching the
//! router or the request path. Time comes from a [`Clock`], so breaker transitions are tested
//! by moving a clock rather than by sleeping.

mod breaker;
mod clock;
mod memory;
mod stats;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use breaker::{Breaker, BreakerSettings, BreakerState};
pub use clock::{Clock, ManualClock, SystemClock};
pub use memory::InMemoryHealth;
pub use stats::{LatencySummary, LiveStats};

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The breaker is closed.
    Allowed,
    /// The breaker is half-open and this call is one of its probes: its outcome decides.
    Probe,
    /// The breaker is open; it will admit probes after `retry_in`.
    Rejected { retry_in: Duration },
}

impl Admission {
    pub fn is_admitted(self) -> bool {
        !matches!(self, Admission::Rejected { .. })
    }
}

/// How a call ended, as far as the provider's health is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Success {
        /// Time to the first token, for streams.
        ttft: Option<Duration>,
        total: Duration,
        output_tokens: u64,
    },
    /// The provider failed (a retryable error: 5xx, timeout, overload, rate limit, a broken
    /// stream).
    Failure { total: Duration },
    /// The call ended for a reason that says nothing about the provider (the request was
    /// invalid); it neither opens nor closes a breaker.
    Neutral,
}

/// What the router reads about a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelHealth {
    pub breaker: BreakerState,
    /// Share of recent calls that succeeded (1.0 with no traffic yet).
    pub availability: f64,
    /// Live time to first token, once enough streams were measured.
    pub ttft_ms: Option<f64>,
    /// Live output throughput, once enough calls were measured.
    pub tokens_per_second: Option<f64>,
}

impl Default for ModelHealth {
    fn default() -> Self {
        ModelHealth {
            breaker: BreakerState::Closed,
            availability: 1.0,
            ttft_ms: None,
            tokens_per_second: None,
        }
    }
}

/// One model's health, as `GET /health/providers` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelHealthReport {
    pub model: String,
    pub provider: String,
    pub breaker: BreakerState,
    pub consecutive_failures: u32,
    /// Seconds until an open breaker admits probes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_secs: Option<f64>,
    pub stats: LiveStats,
}

/// Breaker state and live statistics of every model that has seen traffic.
///
/// Implementations must be cheap to call: the router asks once per candidate per request.
pub trait HealthStore: Send + Sync {
    /// Asks to call `model` now. Every admitted call must end in [`HealthStore::record`].
    fn admit(&self, model: &str) -> Admission;

    /// Reports how an admitted call ended.
    fn record(&self, model: &str, admission: Admission, outcome: Outcome);

    fn model_health(&self, model: &str) -> ModelHealth;

    /// Every model with traffic or a breaker that is not closed, sorted by model id.
    fn report(&self) -> Vec<ModelHealthReport>;

    /// Closes `model`'s breaker and forgets its failures (an operator knows the provider is
    /// back); its statistics stay. False when the model has no history.
    fn reset_breaker(&self, model: &str) -> bool;
}
