//! The circuit breaker of one model: closed → open after consecutive failures or too high an
//! error rate → half-open after a cooldown, admitting a few probes → closed when a probe
//! succeeds, open again when one fails.
//!
//! Pure state: every method takes the current time, so the transitions are plain functions of
//! the calls made and the time that passed. The [`BreakerPhase`] (open or not, probing or not,
//! probes in flight) is what gateway processes share through a store; a shared record's
//! transitions are worked out by this same machine ([`Breaker::from_phase`]).

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
    /// How long an open breaker refuses calls before it admits probes. A probe unanswered for
    /// this long is presumed lost (its process stopped) and frees its slot.
    pub cooldown_ms: u64,
    /// Probes a half-open breaker lets through at once.
    pub half_open_probes: u32,
    /// How often a gateway process reads the breakers shared through its store (an SQLite file
    /// or a DynamoDB table): another process's transition is in force here within this time.
    pub refresh_ms: u64,
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
            refresh_ms: 1_000,
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

/// Where a breaker is in its cycle, apart from the failures counted while closed: the part
/// gateway processes share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreakerPhase {
    /// When the breaker opened; `None` while closed.
    pub open_since: Option<Duration>,
    /// Set while half-open (the cooldown passed and probes are admitted).
    pub half_open: bool,
    pub probes_in_flight: u32,
    /// When the latest probe was admitted.
    pub last_probe_at: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct Breaker {
    phase: BreakerPhase,
    consecutive_failures: u32,
    window_start: Duration,
    window_calls: u32,
    window_failures: u32,
}

impl Breaker {
    /// A breaker in `phase` with no failures counted.
    pub fn from_phase(phase: BreakerPhase) -> Breaker {
        Breaker {
            phase,
            ..Breaker::default()
        }
    }

    pub fn phase(&self) -> BreakerPhase {
        self.phase
    }

    /// Takes the phase another process wrote. A closed phase means a probe succeeded or an
    /// operator reset the breaker there, so the failures counted here are forgotten, as they
    /// would be had that happened here.
    pub fn adopt(&mut self, phase: BreakerPhase, now: Duration) {
        if phase.open_since.is_none() {
            *self = Breaker::closed_at(now);
        } else {
            self.phase = phase;
        }
    }

    pub fn state(&self, now: Duration, settings: &BreakerSettings) -> BreakerState {
        match self.phase.open_since {
            None => BreakerState::Closed,
            Some(_) if self.phase.half_open => BreakerState::HalfOpen,
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
        match (self.phase.open_since, self.phase.half_open) {
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
                let phase = &mut self.phase;
                phase.half_open = true;
                if phase
                    .last_probe_at
                    .is_some_and(|at| now.saturating_sub(at) >= settings.cooldown())
                {
                    phase.probes_in_flight = 0;
                }
                if phase.probes_in_flight < settings.half_open_probes.max(1) {
                    phase.probes_in_flight += 1;
                    phase.last_probe_at = Some(now);
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
            Admission::Allowed if self.phase.open_since.is_none() => {
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
            Admission::Probe => self.trip(now),
            Admission::Allowed if self.phase.open_since.is_none() => {
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
            self.phase.probes_in_flight = self.phase.probes_in_flight.saturating_sub(1);
        }
    }

    fn trip(&mut self, now: Duration) {
        self.phase = BreakerPhase {
            open_since: Some(now),
            ..BreakerPhase::default()
        };
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
        refresh_ms: 1_000,
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

    /// One probe at a time, two failures to trip.
    const P: BreakerSettings = BreakerSettings {
        consecutive_failures: 2,
        error_rate: 0.5,
        min_requests: 10,
        window_ms: 60_000,
        cooldown_ms: 30_000,
        half_open_probes: 1,
        refresh_ms: 1_000,
    };

    fn tripped() -> Breaker {
        let mut b = Breaker::default();
        for _ in 0..2 {
            let a = b.admit(secs(0), &P);
            b.on_failure(secs(0), &P, a);
        }
        b
    }

    #[test]
    fn a_probe_unanswered_for_a_cooldown_is_presumed_lost() {
        let mut b = tripped();
        assert_eq!(b.admit(secs(30), &P), Admission::Probe);
        assert!(!b.admit(secs(59), &P).is_admitted());
        assert_eq!(b.admit(secs(60), &P), Admission::Probe);
        assert_eq!(b.phase().last_probe_at, Some(secs(60)));
    }

    #[test]
    fn a_shared_phase_is_worked_on_by_the_same_transitions() {
        let open = tripped().phase();
        assert_eq!(open.open_since, Some(secs(0)));
        let mut shared = Breaker::from_phase(open);
        assert_eq!(shared.admit(secs(31), &P), Admission::Probe);
        let probing = shared.phase();
        assert_eq!((probing.half_open, probing.probes_in_flight), (true, 1));
        // Another process's claim on the same phase finds the slot taken.
        assert!(
            !Breaker::from_phase(probing)
                .admit(secs(31), &P)
                .is_admitted()
        );
        shared.on_success(secs(32), &P, Admission::Probe);
        assert_eq!(shared.phase(), BreakerPhase::default());
    }

    #[test]
    fn adopting_a_closed_phase_forgets_the_failures_counted_here() {
        let mut b = Breaker::default();
        let a = b.admit(secs(0), &P);
        b.on_failure(secs(0), &P, a);
        assert_eq!(b.consecutive_failures(), 1);
        let open = tripped().phase();
        b.adopt(open, secs(1));
        assert_eq!(b.state(secs(1), &P), BreakerState::Open);
        assert_eq!(b.consecutive_failures(), 1);
        b.adopt(BreakerPhase::default(), secs(2));
        assert_eq!(b.state(secs(2), &P), BreakerState::Closed);
        assert_eq!(b.consecutive_failures(), 0);
    }
}
