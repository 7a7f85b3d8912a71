//! Provider health: circuit breakers and live statistics per model, fed by real traffic and
//! read by the router.
//!
//! Everything goes through [`HealthStore`]: [`InMemoryHealth`] keeps breakers in the process;
//! the server's store-backed implementation shares their transitions with every process on
//! the same store, behind the same trait, so the router and the request path do not change.
//! Time comes from a [`Clock`], so breaker transitions are tested by moving a clock rather than
//! by sleeping.

mod breaker;
mod clock;
mod memory;
mod model_state;
mod stats;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use breaker::{Breaker, BreakerPhase, BreakerSettings, BreakerState};
pub use clock::{Clock, ManualClock, SystemClock};
pub use memory::InMemoryHealth;
pub use model_state::{ModelState, sorted_report};
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
/// The synchronous methods must be cheap: the router asks once per candidate per request. The
/// asynchronous ones are for the rare steps that may wait on a shared store (a probe, an admin
/// read or reset); in-process implementations answer them at once.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Asks to call `model` now. Every admitted call must end in [`HealthStore::record`]; a
    /// [`Admission::Probe`] must first be confirmed with [`HealthStore::claim_probe`].
    fn admit(&self, model: &str) -> Admission;

    /// Confirms a probe that [`HealthStore::admit`] let through: a store shared across
    /// processes claims one of the breaker's probe slots there. It answers `Rejected` (the call
    /// must not go ahead, nor be recorded) when other processes hold them all, and `Allowed`
    /// when another process closed the breaker meanwhile; the caller records the call under the
    /// admission returned.
    async fn claim_probe(&self, _model: &str) -> Admission {
        Admission::Probe
    }

    /// Reports how an admitted call ended.
    fn record(&self, model: &str, admission: Admission, outcome: Outcome);

    fn model_health(&self, model: &str) -> ModelHealth;

    /// Every model with traffic or a breaker that is not closed, sorted by model id.
    fn report(&self) -> Vec<ModelHealthReport>;

    /// Brings breakers shared with other processes up to date before a read an operator waits
    /// for ([`HealthStore::report`]); nothing to do in process.
    async fn refresh(&self) {}

    /// Closes `model`'s breaker and forgets its failures (an operator knows the provider is
    /// back), in every process sharing it; its statistics stay. False when the model has no
    /// history.
    async fn reset_breaker(&self, model: &str) -> bool;
}
