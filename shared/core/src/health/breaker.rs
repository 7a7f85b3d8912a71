//! The circuit breaker of one model: closed → open after consecutive failures or too high an
//! error rate → half-open after a cooldown, admitting a few probes → closed when a probe
//! succeeds, open again when one fails.
//!
//! Pure state: every method takes the current time, so the transitions are plain functions of
//! the calls made and the time that passed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Admission;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// When a breaker opens and how it recovers (`[routing.breaker]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    /// Failures in a row that open the breaker.
    pub consecutive_failures: u32,
    /// Error rate (0-1) within `window_ms` that opens the breaker, once the window holds at
    /// least `min_requests` calls.
    pub error_rate: f64,
    pub min_requests: u32,
    pub window_ms: u64,
    /// How long an open breaker refuses calls before it admits probes.
    pub cooldown_ms: u64,
    /// Probes a half-open breaker lets through at once.
    pub half_open_probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            consecutive_failures: 5,
            error_rate: 0.5,
            min_requests: 20,
            window_ms: 60_000,
            cooldown_ms: 30_000,
            half_open_probes: 1,
        }
    }
}

impl BreakerSettings {
    fn cooldown(&self) -> Duration {
        Duration::from_millis(self.cooldown_ms)
    }
    fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Breaker {
    open_since: Option<Duration>,
    /// Set while half-open (the cooldown passed and probes are admitted).
    half_open: bool,
    probes_in_flight: u32,
    consecutive_failures: u32,
    window_start: Duration,
    window_calls: u32,
    window_failures: u32,
}

impl Breaker {
    pub fn state(&self, now: Duration, settings: &BreakerSettings) -> BreakerState {
        match self.open_since {
            None => BreakerState::Closed,
            Some(_) if self.half_open => BreakerState::HalfOpen,
            Some(since) if now.saturating_sub(since) >= settings.cooldown() => {
                BreakerState::HalfOpen
            }
            Some(_) => BreakerState::Open,
        }
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Time until an open breaker admits probes; `None` unless it is open.
    pub fn retry_in(&self, now: Duration, settings: &BreakerSettings) -> Option<Duration> {
        match (self.open_since, self.half_open) {
            (Some(since), false) => {
                let left = settings
                    .cooldown()
                    .saturating_sub(now.saturating_sub(since));
                (!left.is_zero()).then_some(left)
            }
            _ => None,
        }
    }

    pub fn admit(&mut self, now: Duration, settings: &BreakerSettings) -> Admission {
        match self.state(now, settings) {
            BreakerState::Closed => Admission::Allowed,
            BreakerState::Open => Admission::Rejected {
                retry_in: self.retry_in(now, settings).unwrap_or_default(),
            },
            BreakerState::HalfOpen => {
                self.half_open = true;
                if self.probes_in_flight < settings.half_open_probes.max(1) {
                    self.probes_in_flight += 1;
                    Admission::Probe
                } else {
                    Admission::Rejected {
                        retry_in: Duration::ZERO,
                    }
                }
            }
        }
    }

    pub fn on_success(&mut self, now: Duration, settings: &BreakerSettings, admission: Admission) {
        match admission {
            Admission::Probe => *self = Breaker::closed_at(now),
            Admission::Allowed if self.open_since.is_none() => {
                self.roll_window(now, settings);
                self.consecutive_failures = 0;
                self.window_calls += 1;
            }
            // A call admitted before the breaker opened says nothing about recovery.
            _ => {}
        }
    }

    pub fn on_failure(&mut self, now: Duration, settings: &BreakerSettings, admission: Admission) {
        match admission {
            Admission::Probe => {
                self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
                self.trip(now);
            }
            Admission::Allowed if self.open_since.is_none() => {
                self.roll_window(now, settings);
                self.consecutive_failures += 1;
                self.window_calls += 1;
                self.window_failures += 1;
                let rate_exceeded = self.window_calls >= settings.min_requests.max(1)
                    && f64::from(self.window_failures) / f64::from(self.window_calls)
                        >= settings.error_rate;
                if self.consecutive_failures >= settings.consecutive_failures.max(1)
                    || rate_exceeded
                {
                    self.trip(now);
                }
            }
            _ => {}
        }
    }

    /// An admitted call that ended without a verdict on the provider: its probe slot is free
    /// again.
    pub fn on_neutral(&mut self, admission: Admission) {
        if admission == Admission::Probe {
            self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
        }
    }

    fn trip(&mut self, now: Duration) {
        self.open_since = Some(now);
        self.half_open = false;
        self.probes_in_flight = 0;
    }

    fn closed_at(now: Duration) -> Breaker {
        Breaker {
            window_start: now,
            ..Breaker::default()
        }
    }

    fn roll_window(&mut self, now: Duration, settings: &BreakerSettings) {
        if now.saturating_sub(self.window_start) >= settings.window() {
            self.window_start = now;
            self.window_calls = 0;
            self.window_failures = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: BreakerSettings = BreakerSettings {
        consecutive_failures: 3,
        error_rate: 0.5,
        min_requests: 10,
        window_ms: 60_000,
        cooldown_ms: 30_000,
        half_open_probes: 2,
    };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn fail(b: &mut Breaker, now: Duration) {
        let admission = b.admit(now, &S);
        b.on_failure(now, &S, admission);
    }

    fn succeed(b: &mut Breaker, now: Duration) {
        let admission = b.admit(now, &S);
        b.on_success(now, &S, admission);
    }

    #[test]
    fn consecutive_failures_open_the_breaker_and_a_success_resets_the_count() {
        let mut b = Breaker::default();
        fail(&mut b, secs(0));
        fail(&mut b, secs(0));
        succeed(&mut b, secs(0));
        fail(&mut b, secs(0));
        fail(&mut b, secs(0));
        assert_eq!(b.state(secs(0), &S), BreakerState::Closed);
        fail(&mut b, secs(1));
        assert_eq!(b.state(secs(1), &S), BreakerState::Open);
        assert_eq!(
            b.admit(secs(11), &S),
            Admission::Rejected { retry_in: secs(20) }
        );
    }

    #[test]
    fn an_error_rate_over_the_minimum_number_of_requests_opens_the_breaker() {
        let mut b = Breaker::default();
        // Alternating: never three in a row, but half of the calls fail.
        for i in 0..9 {
            if i % 2 == 0 {
                fail(&mut b, secs(i));
            } else {
                succeed(&mut b, secs(i));
            }
        }
        // 9 calls, 5 failures: under the minimum number of requests.
        assert_eq!(b.state(secs(9), &S), BreakerState::Closed);
        succeed(&mut b, secs(9));
        fail(&mut b, secs(10));
        // 11 calls, 6 failures.
        assert_eq!(b.state(secs(10), &S), BreakerState::Open);
    }

    #[test]
    fn the_error_rate_counts_only_calls_within_the_window() {
        let mut b = Breaker::default();
        for i in 0..10 {
            fail(&mut b, secs(i * 30));
            succeed(&mut b, secs(i * 30));
        }
        assert_eq!(b.state(secs(300), &S), BreakerState::Closed);
    }

    #[test]
    fn after_the_cooldown_a_limited_number_of_probes_pass_and_a_success_closes() {
        let mut b = Breaker::default();
        for _ in 0..3 {
            fail(&mut b, secs(0));
        }
        assert_eq!(b.state(secs(29), &S), BreakerState::Open);
        assert_eq!(b.state(secs(30), &S), BreakerState::HalfOpen);
        let first = b.admit(secs(30), &S);
        let second = b.admit(secs(30), &S);
        assert_eq!((first, second), (Admission::Probe, Admission::Probe));
        assert!(!b.admit(secs(30), &S).is_admitted());
        b.on_success(secs(31), &S, first);
        assert_eq!(b.state(secs(31), &S), BreakerState::Closed);
        assert_eq!(b.admit(secs(31), &S), Admission::Allowed);
        // The other probe's late failure does not reopen it.
        b.on_failure(secs(32), &S, Admission::Allowed);
        assert_eq!(b.consecutive_failures(), 1);
    }

    #[test]
    fn a_failed_probe_opens_the_breaker_for_another_cooldown() {
        let mut b = Breaker::default();
        for _ in 0..3 {
            fail(&mut b, secs(0));
        }
        let probe = b.admit(secs(40), &S);
        assert_eq!(probe, Admission::Probe);
        b.on_failure(secs(41), &S, probe);
        assert_eq!(b.state(secs(41), &S), BreakerState::Open);
        assert_eq!(b.state(secs(70), &S), BreakerState::Open);
        assert_eq!(b.state(secs(71), &S), BreakerState::HalfOpen);
    }

    #[test]
    fn an_abandoned_probe_frees_its_slot() {
        let settings = BreakerSettings {
            half_open_probes: 1,
            ..S
        };
        let mut b = Breaker::default();
        for _ in 0..3 {
            let a = b.admit(secs(0), &settings);
            b.on_failure(secs(0), &settings, a);
        }
        let probe = b.admit(secs(30), &settings);
        assert!(!b.admit(secs(30), &settings).is_admitted());
        b.on_neutral(probe);
        assert_eq!(b.admit(secs(30), &settings), Admission::Probe);
    }
}
