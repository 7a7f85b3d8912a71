//! Circuit breakers shared by every gateway process on one store (an SQLite file, a DynamoDB
//! table): a [`HealthStore`] whose request path stays in memory.
//!
//! `admit`, `record` and `model_health` work on a local copy of each breaker, with the same
//! state machine as the in-process store. What crosses processes are the transitions, each
//! worked out by that machine over the freshest shared record and written with a conditional
//! write (the version read), retried over a newer record when another process wrote first:
//!
//! - opening, after this process's own failures: written in the background, and only over the
//!   record the decision was made on (if another process changed it first, its state wins);
//! - claiming a probe slot once the cooldown passed: awaited before the probe is sent, so the
//!   probe limit holds across processes;
//! - a probe's end (closed on success, open again on failure, its slot freed otherwise):
//!   written in the background;
//! - an operator's reset: awaited.
//!
//! A background task reads every record each `routing.breaker.refresh_ms` and takes those whose
//! version moved. Failure counts and live statistics stay per process. A store error never fails
//! a request: it is logged, and the local breaker decides.
//!
//! Shared records hold Unix times; the local breakers run on the clock counted from the Unix
//! epoch, so both read the same.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use gateway_core::health::{
    Admission, Breaker, BreakerPhase, BreakerSettings, Clock, HealthStore, ModelHealth,
    ModelHealthReport, ModelState, Outcome, sorted_report,
};
use gateway_store::model::breaker::{BreakerRecord, SharedBreaker};
use gateway_store::{BreakerStore, StoreError, StoreResult, Timestamp};
use tokio::sync::mpsc;

/// Conditional writes tried for one transition before giving up on it: each retry follows
/// another process's write to the same breaker, so this many in a row means heavy contention.
const WRITE_ATTEMPTS: usize = 8;

pub struct SharedHealth {
    inner: Arc<Inner>,
    writes: mpsc::UnboundedSender<Write>,
}

struct Inner {
    settings: BreakerSettings,
    clock: Arc<dyn Clock>,
    /// Unix time at the clock's zero.
    epoch: Duration,
    store: Arc<dyn BreakerStore>,
    models: Mutex<HashMap<String, Entry>>,
    /// Set while reading the shared records fails, so an outage is logged once, not per read.
    unreachable: AtomicBool,
}

#[derive(Default)]
struct Entry {
    state: ModelState,
    /// The shared record as last read or written here (version 0: none seen).
    version: u64,
    shared: BreakerPhase,
    /// The open period (its `open_since`) of the probes this process claimed.
    probing: Option<Duration>,
}

/// A transition written in the background, in the order this process made them.
enum Write {
    /// This process's failures opened the breaker over the shared `version`.
    Open {
        model: String,
        version: u64,
        phase: BreakerPhase,
    },
    /// A probe of the period that opened at `opened` ended.
    ProbeEnded {
        model: String,
        opened: Duration,
        outcome: Outcome,
    },
}

/// What a transition does to the freshest shared record.
enum Step {
    Write(BreakerPhase),
    /// The transition no longer applies (another process got there first).
    Stop,
}

impl SharedHealth {
    /// Starts the background task that refreshes the breakers and writes transitions; it ends
    /// when this is dropped. Must be called within a Tokio runtime.
    pub fn start(
        settings: BreakerSettings,
        clock: Arc<dyn Clock>,
        store: Arc<dyn BreakerStore>,
    ) -> SharedHealth {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let inner = Arc::new(Inner {
            settings,
            epoch: since_epoch.saturating_sub(clock.now()),
            clock,
            store,
            models: Mutex::new(HashMap::new()),
            unreachable: AtomicBool::new(false),
        });
        let (writes, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(inner.clone(), queue));
        SharedHealth { inner, writes }
    }
}

async fn run(inner: Arc<Inner>, mut queue: mpsc::UnboundedReceiver<Write>) {
    let mut refresh =
        tokio::time::interval(Duration::from_millis(inner.settings.refresh_ms.max(1)));
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            write = queue.recv() => match write {
                Some(write) => inner.write(write).await,
                None => return,
            },
            _ = refresh.tick() => inner.refresh().await,
        }
    }
}

fn to_timestamp(at: Duration) -> Timestamp {
    Timestamp(i64::try_from(at.as_millis()).unwrap_or(i64::MAX))
}

fn to_duration(at: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(at.millis()).unwrap_or(0))
}

fn to_shared(phase: BreakerPhase) -> SharedBreaker {
    SharedBreaker {
        opened_at: phase.open_since.map(to_timestamp),
        half_open: phase.half_open,
        probes: phase.probes_in_flight,
        probed_at: phase.last_probe_at.map(to_timestamp),
    }
}

fn from_shared(breaker: &SharedBreaker) -> BreakerPhase {
    BreakerPhase {
        open_since: breaker.opened_at.map(to_duration),
        half_open: breaker.half_open,
        probes_in_flight: breaker.probes,
        last_probe_at: breaker.probed_at.map(to_duration),
    }
}

impl Inner {
    fn now(&self) -> Duration {
        self.epoch + self.clock.now()
    }

    fn models(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // As in the in-process store: a poisoned lock costs at worst some health data.
        self.models.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The shared record as this process knows it.
    fn known(&self, model: &str) -> (u64, BreakerPhase) {
        self.models()
            .get(model)
            .map_or((0, BreakerPhase::default()), |e| (e.version, e.shared))
    }

    /// Takes `record` if it is newer than what this process knows.
    fn adopt(&self, record: &BreakerRecord) {
        let now = self.now();
        let mut models = self.models();
        let entry = models.entry(record.model.clone()).or_default();
        if record.version > entry.version {
            entry.version = record.version;
            entry.shared = from_shared(&record.breaker);
            entry.state.breaker.adopt(entry.shared, now);
        }
    }

    async fn refresh(&self) {
        match self.store.list_breakers().await {
            Ok(records) => {
                if self.unreachable.swap(false, Ordering::Relaxed) {
                    tracing::info!("shared circuit breakers are readable again");
                }
                for record in &records {
                    self.adopt(record);
                }
            }
            Err(err) => {
                if !self.unreachable.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %err,
                        "cannot read the shared circuit breakers; each process decides alone until the store answers");
                }
            }
        }
    }

    /// The freshest record of `model` from the store, taken here too.
    async fn reread(&self, model: &str) -> StoreResult<(u64, BreakerPhase)> {
        match self.store.get_breaker(model).await {
            Ok(record) => {
                self.adopt(&record);
                Ok((record.version, from_shared(&record.breaker)))
            }
            Err(StoreError::NotFound(_)) => Ok((0, BreakerPhase::default())),
            Err(err) => Err(err),
        }
    }

    /// Applies `step` to the shared record (first as known here, then as re-read after each
    /// conflict) until a write succeeds or the step stops. Returns the record written, if any,
    /// and the last phase the step was decided on.
    async fn transition(
        &self,
        model: &str,
        step: impl Fn(u64, BreakerPhase) -> Step,
    ) -> StoreResult<(Option<BreakerRecord>, BreakerPhase)> {
        let (mut version, mut phase) = self.known(model);
        for _ in 0..WRITE_ATTEMPTS {
            let Step::Write(next) = step(version, phase) else {
                return Ok((None, phase));
            };
            match self
                .store
                .replace_breaker(model, version, &to_shared(next))
                .await
            {
                Ok(record) => {
                    self.adopt(&record);
                    return Ok((Some(record), phase));
                }
                Err(StoreError::Conflict(_)) => (version, phase) = self.reread(model).await?,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Conflict(format!(
            "breaker {model} changed {WRITE_ATTEMPTS} times while being written"
        )))
    }

    async fn write(&self, write: Write) {
        let now = self.now();
        let settings = self.settings;
        let (model, result) = match write {
            Write::Open {
                model,
                version,
                phase,
            } => {
                let decided_on = version;
                let result = self
                    .transition(&model, |version, _| {
                        if version == decided_on {
                            Step::Write(phase)
                        } else {
                            Step::Stop
                        }
                    })
                    .await;
                (model, result)
            }
            Write::ProbeEnded {
                model,
                opened,
                outcome,
            } => {
                let result = self
                    .transition(&model, |_, phase| {
                        if phase.open_since != Some(opened) {
                            return Step::Stop;
                        }
                        let mut state = ModelState {
                            breaker: Breaker::from_phase(phase),
                            ..ModelState::default()
                        };
                        state.record(now, &settings, Admission::Probe, outcome);
                        Step::Write(state.breaker.phase())
                    })
                    .await;
                (model, result)
            }
        };
        if let Err(err) = result {
            tracing::warn!(model = %model, error = %err,
                "could not share a circuit breaker transition; it holds in this process");
        }
    }
}

#[async_trait]
impl HealthStore for SharedHealth {
    fn admit(&self, model: &str) -> Admission {
        let now = self.inner.now();
        match self.inner.models().get_mut(model) {
            Some(entry) => entry.state.breaker.admit(now, &self.inner.settings),
            None => Admission::Allowed,
        }
    }

    async fn claim_probe(&self, model: &str) -> Admission {
        let inner = &self.inner;
        let now = inner.now();
        let settings = inner.settings;
        let claimed = inner
            .transition(model, |_, phase| {
                let mut breaker = Breaker::from_phase(phase);
                match phase.open_since {
                    Some(_) if breaker.admit(now, &settings) == Admission::Probe => {
                        Step::Write(breaker.phase())
                    }
                    _ => Step::Stop,
                }
            })
            .await;
        let mut models = inner.models();
        let Some(entry) = models.get_mut(model) else {
            return Admission::Probe;
        };
        match claimed {
            Ok((Some(record), _)) => {
                entry.probing = record.breaker.opened_at.map(to_duration);
                Admission::Probe
            }
            Ok((None, seen)) if seen.open_since.is_none() => {
                match entry.state.breaker.phase().open_since {
                    // Another process closed it meanwhile: an ordinary call.
                    None => Admission::Allowed,
                    // It opened here only (the opening was not shared): this process probes.
                    Some(opened) => {
                        entry.probing = Some(opened);
                        Admission::Probe
                    }
                }
            }
            Ok((None, seen)) => {
                // Other processes hold every slot: the slot taken here is given back.
                entry.state.breaker.adopt(entry.shared, now);
                Admission::Rejected {
                    retry_in: Breaker::from_phase(seen)
                        .retry_in(now, &settings)
                        .unwrap_or_default(),
                }
            }
            Err(err) => {
                tracing::warn!(model, error = %err,
                    "could not claim a shared probe slot; this process probes on its own");
                entry.probing = entry.state.breaker.phase().open_since;
                Admission::Probe
            }
        }
    }

    fn record(&self, model: &str, admission: Admission, outcome: Outcome) {
        let now = self.inner.now();
        let write = {
            let mut models = self.inner.models();
            let entry = models.entry(model.to_owned()).or_default();
            let was_open = entry.state.breaker.phase().open_since.is_some();
            entry
                .state
                .record(now, &self.inner.settings, admission, outcome);
            let phase = entry.state.breaker.phase();
            match admission {
                Admission::Probe => entry.probing.map(|opened| Write::ProbeEnded {
                    model: model.to_owned(),
                    opened,
                    outcome,
                }),
                Admission::Allowed if !was_open && phase.open_since.is_some() => {
                    Some(Write::Open {
                        model: model.to_owned(),
                        version: entry.version,
                        phase,
                    })
                }
                _ => None,
            }
        };
        if let Some(write) = write {
            // Fails only once the background task is gone, i.e. while shutting down.
            let _ = self.writes.send(write);
        }
    }

    fn model_health(&self, model: &str) -> ModelHealth {
        let now = self.inner.now();
        self.inner
            .models()
            .get(model)
            .map_or_else(ModelHealth::default, |e| {
                e.state.health(now, &self.inner.settings)
            })
    }

    fn report(&self) -> Vec<ModelHealthReport> {
        let now = self.inner.now();
        let models = self.inner.models();
        sorted_report(
            models
                .iter()
                .map(|(model, e)| e.state.report(model, now, &self.inner.settings))
                .collect(),
        )
    }

    async fn refresh(&self) {
        self.inner.refresh().await;
    }

    async fn reset_breaker(&self, model: &str) -> bool {
        // Start from the freshest record: another process may have opened it a moment ago.
        if let Err(err) = self.inner.reread(model).await {
            tracing::warn!(model, error = %err, "cannot read the shared circuit breaker");
        }
        let now = self.inner.now();
        let known = match self.inner.models().get_mut(model) {
            Some(entry) => {
                entry.state.breaker.adopt(BreakerPhase::default(), now);
                true
            }
            None => false,
        };
        let written = self
            .inner
            .transition(model, |version, _| {
                if version == 0 && !known {
                    Step::Stop
                } else {
                    Step::Write(BreakerPhase::default())
                }
            })
            .await;
        match written {
            Ok((record, _)) => known || record.is_some(),
            Err(err) => {
                tracing::warn!(model, error = %err,
                    "could not reset the shared circuit breaker; it is reset in this process");
                known
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use gateway_core::health::{BreakerState, ManualClock};
    use gateway_store::sqlite::SqliteStore;

    use super::*;

    const MODEL: &str = "p/m";
    const SETTINGS: BreakerSettings = BreakerSettings {
        consecutive_failures: 2,
        error_rate: 0.5,
        min_requests: 20,
        window_ms: 60_000,
        cooldown_ms: 30_000,
        half_open_probes: 1,
        // Read by the tests when they choose, not by the background task.
        refresh_ms: 3_600_000,
    };
    const FAILURE: Outcome = Outcome::Failure {
        total: Duration::from_millis(5),
    };
    const SUCCESS: Outcome = Outcome::Success {
        ttft: None,
        total: Duration::from_millis(5),
        output_tokens: 3,
    };

    /// A gateway process: its own clock and breakers, on a store others may share.
    fn process(store: Arc<dyn BreakerStore>) -> (SharedHealth, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::default());
        (SharedHealth::start(SETTINGS, clock.clone(), store), clock)
    }

    fn fail_twice(health: &SharedHealth) {
        for _ in 0..2 {
            let admission = health.admit(MODEL);
            health.record(MODEL, admission, FAILURE);
        }
    }

    /// Refreshes until `health` sees the breaker in `state` (background writes land soon).
    async fn until(health: &SharedHealth, state: BreakerState) {
        for _ in 0..400 {
            health.refresh().await;
            if health.model_health(MODEL).breaker == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the breaker never became {state:?}");
    }

    #[tokio::test]
    async fn one_process_opens_the_breaker_for_another_and_one_probe_goes_out_across_both() {
        let store: Arc<dyn BreakerStore> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let (a, clock_a) = process(store.clone());
        let (b, clock_b) = process(store.clone());
        fail_twice(&a);
        assert_eq!(a.model_health(MODEL).breaker, BreakerState::Open);
        until(&b, BreakerState::Open).await;
        assert!(!b.admit(MODEL).is_admitted());

        let cooldown = Duration::from_millis(SETTINGS.cooldown_ms);
        clock_a.advance(cooldown);
        clock_b.advance(cooldown);
        // Each process lets a probe through on its own; the shared record has one slot.
        assert_eq!(
            (a.admit(MODEL), b.admit(MODEL)),
            (Admission::Probe, Admission::Probe)
        );
        assert_eq!(a.claim_probe(MODEL).await, Admission::Probe);
        assert!(!b.claim_probe(MODEL).await.is_admitted());
        assert!(!b.admit(MODEL).is_admitted(), "the slot is taken");
        let record = store.get_breaker(MODEL).await.unwrap();
        assert_eq!((record.breaker.half_open, record.breaker.probes), (true, 1));

        a.record(MODEL, Admission::Probe, SUCCESS);
        until(&b, BreakerState::Closed).await;
        assert_eq!(b.admit(MODEL), Admission::Allowed);
    }

    #[tokio::test]
    async fn a_reset_in_one_process_closes_the_breaker_in_another() {
        let store: Arc<dyn BreakerStore> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let (a, _) = process(store.clone());
        let (b, _) = process(store);
        fail_twice(&b);
        until(&a, BreakerState::Open).await;
        assert!(a.reset_breaker(MODEL).await);
        assert_eq!(a.model_health(MODEL).breaker, BreakerState::Closed);
        until(&b, BreakerState::Closed).await;
        // b's failures were forgotten with the reset: one more does not open it.
        let admission = b.admit(MODEL);
        b.record(MODEL, admission, FAILURE);
        assert_eq!(b.model_health(MODEL).breaker, BreakerState::Closed);
        assert!(!a.reset_breaker("p/never-called").await);
    }

    /// A store that is down.
    struct Unreachable;

    #[async_trait]
    impl BreakerStore for Unreachable {
        async fn list_breakers(&self) -> StoreResult<Vec<BreakerRecord>> {
            Err(StoreError::Backend("connection refused".to_owned()))
        }
        async fn get_breaker(&self, _: &str) -> StoreResult<BreakerRecord> {
            Err(StoreError::Backend("connection refused".to_owned()))
        }
        async fn replace_breaker(
            &self,
            _: &str,
            _: u64,
            _: &SharedBreaker,
        ) -> StoreResult<BreakerRecord> {
            Err(StoreError::Backend("connection refused".to_owned()))
        }
    }

    #[tokio::test]
    async fn with_the_store_down_each_process_decides_from_its_own_breakers() {
        let (health, clock) = process(Arc::new(Unreachable));
        fail_twice(&health);
        health.refresh().await;
        assert_eq!(health.model_health(MODEL).breaker, BreakerState::Open);
        assert!(!health.admit(MODEL).is_admitted());
        clock.advance(Duration::from_millis(SETTINGS.cooldown_ms));
        assert_eq!(health.admit(MODEL), Admission::Probe);
        assert_eq!(health.claim_probe(MODEL).await, Admission::Probe);
        health.record(MODEL, Admission::Probe, SUCCESS);
        assert_eq!(health.model_health(MODEL).breaker, BreakerState::Closed);
        fail_twice(&health);
        assert!(health.reset_breaker(MODEL).await);
        assert_eq!(health.admit(MODEL), Admission::Allowed);
        assert_eq!(health.report()[0].stats.requests, 5);
    }
}
