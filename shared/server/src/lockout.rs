//! Brute-force protection: failed authentications are counted per client IP address, and an
//! address that fails too often is locked out, for longer each time it does it again.
//!
//! A success from the address clears nothing: a client holding one valid key cannot interleave
//! good requests with guesses to stay under the threshold.
//!
//! The state is per process and in memory: a guessing client is refused after a handful of
//! tries by whichever process it reaches, with no store round trip on the failure path. The
//! table is bounded; when it is full, entries whose lockout and window are over go first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use gateway_core::config::LockoutConfig;

/// Addresses tracked at most.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
    /// Lockouts so far; each doubles the next one.
    lockouts: u32,
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    Counted,
    /// This failure locked the address out for this long.
    LockedOut(Duration),
}

pub struct Lockout {
    config: LockoutConfig,
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl Lockout {
    pub fn new(config: LockoutConfig) -> Self {
        Lockout {
            config,
            records: Mutex::new(HashMap::new()),
        }
    }

    /// How long `ip` is still locked out, if it is.
    pub fn locked_for(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records
            .get(&ip)
            .and_then(|r| r.locked_until)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    pub fn record_failure(&self, ip: IpAddr, now: Instant) -> FailureOutcome {
        let window = Duration::from_secs(self.config.window_secs);
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() >= MAX_TRACKED && !records.contains_key(&ip) {
            records.retain(|_, r| {
                r.locked_until.is_some_and(|until| until > now)
                    || now.duration_since(r.window_start) < window
            });
            if records.len() >= MAX_TRACKED {
                return FailureOutcome::Counted;
            }
        }
        let record = records.entry(ip).or_insert(Record {
            window_start: now,
            failures: 0,
            locked_until: None,
            lockouts: 0,
        });
        if now.duration_since(record.window_start) >= window {
            record.window_start = now;
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        if record.failures < self.config.max_failures.max(1) {
            return FailureOutcome::Counted;
        }
        let factor = 1u64 << record.lockouts.min(20);
        let secs = self
            .config
            .lockout_secs
            .saturating_mul(factor)
            .min(self.config.max_lockout_secs.max(self.config.lockout_secs));
        let length = Duration::from_secs(secs.max(1));
        record.lockouts = record.lockouts.saturating_add(1);
        record.failures = 0;
        record.window_start = now;
        record.locked_until = Some(now + length);
        FailureOutcome::LockedOut(length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout() -> Lockout {
        Lockout::new(LockoutConfig {
            max_failures: 3,
            window_secs: 60,
            lockout_secs: 10,
            max_lockout_secs: 25,
        })
    }

    #[test]
    fn repeated_failures_lock_out_for_doubling_periods_up_to_the_cap() {
        let l = lockout();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(l.record_failure(ip, t0), FailureOutcome::Counted);
        assert_eq!(l.record_failure(ip, t0), FailureOutcome::Counted);
        assert_eq!(
            l.record_failure(ip, t0),
            FailureOutcome::LockedOut(Duration::from_secs(10))
        );
        assert!(l.locked_for(ip, t0).is_some());
        assert!(l.locked_for("192.0.2.2".parse().unwrap(), t0).is_none());
        let t1 = t0 + Duration::from_secs(11);
        assert!(l.locked_for(ip, t1).is_none());
        l.record_failure(ip, t1);
        l.record_failure(ip, t1);
        assert_eq!(
            l.record_failure(ip, t1),
            FailureOutcome::LockedOut(Duration::from_secs(20))
        );
        let t2 = t1 + Duration::from_secs(21);
        l.record_failure(ip, t2);
        l.record_failure(ip, t2);
        assert_eq!(
            l.record_failure(ip, t2),
            FailureOutcome::LockedOut(Duration::from_secs(25))
        );
    }

    #[test]
    fn failures_outside_the_window_start_a_new_count() {
        let l = lockout();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let t0 = Instant::now();
        l.record_failure(ip, t0);
        l.record_failure(ip, t0);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(l.record_failure(ip, later), FailureOutcome::Counted);
    }
}
