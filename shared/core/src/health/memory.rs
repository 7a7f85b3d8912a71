//! The in-process [`HealthStore`]: one lock over a map of models. State lives as long as the
//! process: for a gateway without a store, and for tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::model_state::{ModelState, sorted_report};
use super::{
    Admission, Breaker, BreakerSettings, Clock, HealthStore, ModelHealth, ModelHealthReport,
    Outcome,
};

pub struct InMemoryHealth {
    settings: BreakerSettings,
    clock: Arc<dyn Clock>,
    models: Mutex<HashMap<String, ModelState>>,
}

impl InMemoryHealth {
    pub fn new(settings: BreakerSettings, clock: Arc<dyn Clock>) -> Self {
        InMemoryHealth {
            settings,
            clock,
            models: Mutex::new(HashMap::new()),
        }
    }

    fn models(&self) -> MutexGuard<'_, HashMap<String, ModelState>> {
        // A panic while holding the lock cannot leave a breaker half-updated in a way that
        // matters more than losing health data, so a poisoned lock is used as it is.
        self.models
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl HealthStore for InMemoryHealth {
    fn admit(&self, model: &str) -> Admission {
        let now = self.clock.now();
        let mut models = self.models();
        match models.get_mut(model) {
            Some(state) => state.breaker.admit(now, &self.settings),
            // No history: closed. Nothing is stored until an outcome is recorded.
            None => Admission::Allowed,
        }
    }

    fn record(&self, model: &str, admission: Admission, outcome: Outcome) {
        let now = self.clock.now();
        let mut models = self.models();
        let state = models.entry(model.to_owned()).or_default();
        state.record(now, &self.settings, admission, outcome);
    }

    fn model_health(&self, model: &str) -> ModelHealth {
        let now = self.clock.now();
        self.models()
            .get(model)
            .map_or_else(ModelHealth::default, |state| {
                state.health(now, &self.settings)
            })
    }

    async fn reset_breaker(&self, model: &str) -> bool {
        match self.models().get_mut(model) {
            Some(state) => {
                state.breaker = Breaker::default();
                true
            }
            None => false,
        }
    }

    fn report(&self) -> Vec<ModelHealthReport> {
        let now = self.clock.now();
        let models = self.models();
        sorted_report(
            models
                .iter()
                .map(|(model, state)| state.report(model, now, &self.settings))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::health::{BreakerState, ManualClock};

    #[test]
    fn the_store_opens_and_recovers_a_models_breaker_as_its_clock_moves() {
        let clock = Arc::new(ManualClock::default());
        let store = InMemoryHealth::new(
            BreakerSettings {
                consecutive_failures: 2,
                cooldown_ms: 1_000,
                ..BreakerSettings::default()
            },
            clock.clone(),
        );
        let failure = Outcome::Failure {
            total: Duration::from_millis(3),
        };
        for _ in 0..2 {
            let a = store.admit("p/m");
            store.record("p/m", a, failure);
        }
        assert_eq!(store.model_health("p/m").breaker, BreakerState::Open);
        assert_eq!(store.model_health("p/other").breaker, BreakerState::Closed);
        assert!(!store.admit("p/m").is_admitted());
        clock.advance(Duration::from_millis(1_000));
        let probe = store.admit("p/m");
        assert_eq!(probe, Admission::Probe);
        store.record(
            "p/m",
            probe,
            Outcome::Success {
                ttft: None,
                total: Duration::from_millis(10),
                output_tokens: 5,
            },
        );
        let report = store.report();
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].breaker, BreakerState::Closed);
        assert_eq!(report[0].provider, "p");
        assert_eq!((report[0].stats.requests, report[0].stats.failures), (3, 2));
    }
}
