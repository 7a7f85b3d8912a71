//! Everything a request handler borrows, built once at start-up from the configuration.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use gateway_core::catalog::Catalog;
use gateway_core::config::{self, Config, EnvSource, UpstreamConfig};
use gateway_core::health::{Clock, HealthStore, InMemoryHealth, SystemClock};
use gateway_core::keys::GatewayKeyHash;
use gateway_core::routing::{
    ModelRouter, PriorQualityPredictor, QualityPredictor, RoutingPreferences,
};
use gateway_core::upstream::Provider;
use gateway_core::{ApiError, ErrorKind};
use gateway_store::Store;

use crate::access::Access;
use crate::learned_quality::LearnedQuality;

use crate::receipt_log::ReceiptLog;
use crate::request_id::RequestContext;
use crate::shared_health::SharedHealth;

pub struct AppState {
    pub router: ModelRouter,
    /// The configured `[routing]` preferences: those of every organisation that stored none.
    pub preferences: RoutingPreferences,
    /// Breakers and live statistics: shared with the other processes on the store when there
    /// is one ([`SharedHealth`]), in process otherwise.
    pub health: Arc<dyn HealthStore>,
    pub predictor: Arc<dyn QualityPredictor>,
    /// `[routing.predictor]`: per-request predictions from the prompt's embedding, which
    /// replace `predictor` for `auto` when configured.
    pub learned: Option<Arc<LearnedQuality>>,
    pub receipts: Arc<ReceiptLog>,
    /// `[routing] attempt_timeout_ms` and `deadline_ms`.
    pub attempt_timeout: Option<std::time::Duration>,
    pub deadline: Option<std::time::Duration>,
    pub providers: HashMap<String, Arc<dyn Provider>>,
    pub keys: Vec<(String, GatewayKeyHash)>,
    pub upstream: UpstreamConfig,
    pub max_body_bytes: usize,
    /// `[server] max_in_flight`: requests past it are refused with a 503.
    pub in_flight: Option<crate::in_flight::InFlightLimit>,
    /// `[server] shutdown_grace_ms`: how long a stopping server lets requests finish.
    pub shutdown_grace: std::time::Duration,
    /// Fired when that grace is over: requests still in flight end (see [`crate::draining`]).
    pub grace_over: tokio_util::sync::CancellationToken,
    /// The tasks recording receipts of answers cut short (see [`crate::unfinished`]). Closed from
    /// the start, so waiting on it waits for the tasks running then.
    pub settling: tokio_util::task::TaskTracker,
    /// Cross-origin access, when any origin is allowed.
    pub cors: Option<tower_http::cors::CorsLayer>,
    /// Keys, limits and the request log from the store; without one, only `[[auth.keys]]`
    /// authenticate and nothing is limited or logged.
    pub access: Option<Arc<Access>>,
    /// `[spend] platform_fee_percent`, for receipts.
    pub platform_fee_percent: f64,
}

impl AppState {
    /// Resolves providers, keys, catalog and routing from a loaded configuration.
    pub fn from_config(config: &Config, env: &dyn EnvSource) -> anyhow::Result<AppState> {
        Self::with_clock(config, env, Arc::new(SystemClock::default()))
    }

    /// As [`AppState::from_config`], with breakers and statistics on the given clock.
    pub fn with_clock(
        config: &Config,
        env: &dyn EnvSource,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<AppState> {
        let providers = config::resolve_providers(config, env)?;
        let keys = config::resolve_keys(config, env)?;
        let catalog = match &config.catalog.file {
            Some(path) => Catalog::built_in_extended_by(path)?,
            None => Catalog::built_in()?,
        };
        let router = ModelRouter::new(
            &catalog,
            &providers,
            config.routing.default_model.as_deref(),
        )?;
        let preferences = config.routing.preferences()?;
        router.check_models("fallback_chain", &preferences.fallback_chain)?;
        router.check_models("allowed_models", &preferences.allowed_models)?;
        router.check_models("blocked_models", &preferences.blocked_models)?;
        let ms = |v: Option<u64>| v.map(std::time::Duration::from_millis);
        let client = gateway_providers::http::client(&config.upstream)
            .context("building the HTTP client for providers")?;
        let adapters = providers
            .iter()
            .map(|p| Ok((p.id.clone(), gateway_providers::build(p, &client)?)))
            .collect::<Result<_, gateway_providers::InvalidBaseUrl>>()?;
        Ok(AppState {
            router,
            preferences,
            health: Arc::new(InMemoryHealth::new(config.routing.breaker, clock)),
            predictor: Arc::new(PriorQualityPredictor),
            learned: match &config.routing.predictor {
                Some(predictor) => Some(Arc::new(LearnedQuality::load(predictor)?)),
                None => None,
            },
            receipts: Arc::new(ReceiptLog::new(config.routing.receipts_kept)),
            attempt_timeout: ms(config.routing.attempt_timeout_ms),
            deadline: ms(config.routing.deadline_ms),
            providers: adapters,
            keys,
            upstream: config.upstream.clone(),
            max_body_bytes: config.server.max_body_bytes,
            in_flight: config
                .server
                .max_in_flight
                .map(crate::in_flight::InFlightLimit::new),
            shutdown_grace: std::time::Duration::from_millis(config.server.shutdown_grace_ms),
            grace_over: tokio_util::sync::CancellationToken::new(),
            settling: {
                let tasks = tokio_util::task::TaskTracker::new();
                tasks.close();
                tasks
            },
            cors: crate::cors::layer(&config.server.cors_allowed_origins)?,
            access: None,
            platform_fee_percent: config.spend.platform_fee_percent,
        })
    }

    /// The same, with organisations, store keys, limits, the request log and circuit breakers
    /// shared through `store`.
    pub async fn with_store(
        config: &Config,
        env: &dyn EnvSource,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<AppState> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::default());
        let mut state = AppState::with_clock(config, env, clock.clone())?;
        state.health = Arc::new(SharedHealth::start(
            config.routing.breaker,
            clock,
            store.clone(),
        ));
        let access = Access::start(config, state.keys.clone(), store).await?;
        state.access = Some(Arc::new(access));
        Ok(state)
    }

    /// The routing preferences of the request's organisation: its stored ones over the
    /// configured ones, or the configured ones.
    pub fn preferences_for(&self, context: &RequestContext) -> Cow<'_, RoutingPreferences> {
        match context.caller.as_ref().and_then(|c| c.org.routing.as_ref()) {
            Some(stored) => Cow::Owned(stored.over(&self.preferences)),
            None => Cow::Borrowed(&self.preferences),
        }
    }

    pub fn provider(&self, id: &str) -> Result<Arc<dyn Provider>, ApiError> {
        self.providers.get(id).cloned().ok_or_else(|| {
            // The router only returns models of configured providers; reaching this is a bug.
            tracing::error!(provider = id, "routed to a provider that has no adapter");
            ApiError::new(ErrorKind::Internal, "The routed provider is not available.")
        })
    }
}
