//! One model's breaker and live statistics, as every [`HealthStore`](super::HealthStore) keeps
//! them: how an outcome is applied and how the state is read, in one place.

use std::time::Duration;

use super::{
    Admission, Breaker, BreakerSettings, LiveStats, ModelHealth, ModelHealthReport, Outcome,
};

#[derive(Debug, Default)]
pub struct ModelState {
    pub breaker: Breaker,
    pub stats: LiveStats,
}

impl ModelState {
    /// Feeds an admitted call's outcome to the statistics and the breaker.
    pub fn record(
        &mut self,
        now: Duration,
        settings: &BreakerSettings,
        admission: Admission,
        outcome: Outcome,
    ) {
        self.stats.observe(&outcome);
        match outcome {
            Outcome::Success { .. } => self.breaker.on_success(now, settings, admission),
            Outcome::Failure { .. } => self.breaker.on_failure(now, settings, admission),
            Outcome::Neutral => self.breaker.on_neutral(admission),
        }
    }

    pub fn health(&self, now: Duration, settings: &BreakerSettings) -> ModelHealth {
        ModelHealth {
            breaker: self.breaker.state(now, settings),
            availability: 1.0 - self.stats.error_rate,
            ttft_ms: self.stats.ttft_ms.settled(),
            tokens_per_second: self.stats.settled_tokens_per_second(),
        }
    }

    pub fn report(
        &self,
        model: &str,
        now: Duration,
        settings: &BreakerSettings,
    ) -> ModelHealthReport {
        ModelHealthReport {
            model: model.to_owned(),
            provider: model.split_once('/').map_or("", |(p, _)| p).to_owned(),
            breaker: self.breaker.state(now, settings),
            consecutive_failures: self.breaker.consecutive_failures(),
            retry_in_secs: self
                .breaker
                .retry_in(now, settings)
                .map(|d| d.as_secs_f64()),
            stats: self.stats.clone(),
        }
    }
}

/// Sorted by model id, as [`HealthStore::report`](super::HealthStore::report) promises.
pub fn sorted_report(mut report: Vec<ModelHealthReport>) -> Vec<ModelHealthReport> {
    report.sort_by(|a, b| a.model.cmp(&b.model));
    report
}
