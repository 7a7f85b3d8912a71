//! What the status page shows: the deployment, the models it can route to with their catalog
//! prices and quality priors, and the circuit breakers of models that have seen traffic.

use gateway_core::catalog::ModelKind;
use gateway_core::health::BreakerState;
use gateway_server::AppState;

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub version: &'static str,
    pub providers: Vec<String>,
    pub models: Vec<ModelRow>,
    pub breakers: Vec<BreakerRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub id: String,
    pub kind: &'static str,
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    pub quality: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerRow {
    pub model: String,
    pub state: &'static str,
    pub requests: u64,
    pub error_rate: f64,
}

impl Status {
    pub fn of(state: &AppState) -> Status {
        let mut providers: Vec<String> = state.providers.keys().cloned().collect();
        providers.sort_unstable();
        let models = state
            .router
            .models()
            .iter()
            .map(|m| ModelRow {
                id: m.id.clone(),
                kind: match m.kind {
                    ModelKind::Chat => "chat",
                    ModelKind::Embedding => "embedding",
                },
                input_per_mtok: m.input_per_mtok,
                output_per_mtok: m.output_per_mtok,
                quality: m.quality,
            })
            .collect();
        let breakers = state
            .health
            .report()
            .into_iter()
            .map(|r| BreakerRow {
                model: r.model,
                state: match r.breaker {
                    BreakerState::Closed => "closed",
                    BreakerState::Open => "open",
                    BreakerState::HalfOpen => "half-open",
                },
                requests: r.stats.requests,
                error_rate: r.stats.error_rate,
            })
            .collect();
        Status {
            version: env!("CARGO_PKG_VERSION"),
            providers,
            models,
            breakers,
        }
    }
}
