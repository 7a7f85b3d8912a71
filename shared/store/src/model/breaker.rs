//! A model's circuit breaker as the gateway processes sharing a store see it: whether and since
//! when it is open, and the probes claimed since its cooldown ended. Failure counts are not
//! here: each process counts its own calls and writes only the transitions they cause.

use crate::time::Timestamp;

/// The shared part of one breaker. What the fields mean (cooldowns, the probe limit) is the
/// gateway's business; the store keeps them and the version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedBreaker {
    /// When the breaker last opened; `None` while it is closed.
    pub opened_at: Option<Timestamp>,
    /// Set once probing started after the cooldown.
    pub half_open: bool,
    /// Probes admitted and not yet answered, across every process.
    pub probes: u32,
    /// When the last probe was admitted.
    pub probed_at: Option<Timestamp>,
}

/// A stored breaker and the version a conditional write must name to replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerRecord {
    /// `provider/model`.
    pub model: String,
    /// 1 for the first write, one more for each write since.
    pub version: u64,
    pub breaker: SharedBreaker,
}
