//! An organisation's routing preferences: what `auto` optimises for, the bar candidates must
//! meet, which providers and models it may use, and how it falls back.
//!
//! Organisations are not stored yet, so every request gets the preferences of the
//! configuration's `[routing]` section; a store lookup per organisation will supply the same
//! type later.

use std::collections::HashSet;

use super::hints::Priority;

#[derive(Debug, Clone, PartialEq)]
pub struct RoutingPreferences {
    /// The model `savings_vs_default_usd` compares against.
    pub default_model: Option<String>,
    pub default_priority: Priority,
    /// Lowest predicted quality (0-1) a candidate may have; a hint's `min_quality_score`
    /// replaces it.
    pub quality_threshold: f64,
    /// Highest estimated latency a candidate may have; a hint's `max_latency_ms` replaces it.
    pub max_latency_ms: Option<u64>,
    /// Empty: every configured provider.
    pub allowed_providers: HashSet<String>,
    pub blocked_providers: HashSet<String>,
    /// Empty: every model of an allowed provider.
    pub allowed_models: HashSet<String>,
    pub blocked_models: HashSet<String>,
    /// Empty: any region. Otherwise a model must be served in one of these (`us`, `eu`).
    pub allowed_regions: HashSet<String>,
    pub fallback_enabled: bool,
    /// Tried after the automatic fallbacks when a request names no chain of its own.
    pub fallback_chain: Vec<String>,
    /// Calls per request at most, the first one included.
    pub max_attempts: usize,
}

impl Default for RoutingPreferences {
    fn default() -> Self {
        RoutingPreferences {
            default_model: None,
            default_priority: Priority::Cost,
            quality_threshold: 0.0,
            max_latency_ms: None,
            allowed_providers: HashSet::new(),
            blocked_providers: HashSet::new(),
            allowed_models: HashSet::new(),
            blocked_models: HashSet::new(),
            allowed_regions: HashSet::new(),
            fallback_enabled: true,
            fallback_chain: Vec::new(),
            max_attempts: 3,
        }
    }
}

impl RoutingPreferences {
    /// Why the preferences forbid a model, if they do.
    pub fn forbids(&self, provider: &str, model: &str) -> Option<&'static str> {
        if self.blocked_providers.contains(provider)
            || (!self.allowed_providers.is_empty() && !self.allowed_providers.contains(provider))
        {
            return Some("provider_not_allowed");
        }
        if self.blocked_models.contains(model)
            || (!self.allowed_models.is_empty() && !self.allowed_models.contains(model))
        {
            return Some("model_not_allowed");
        }
        None
    }

    /// Whether a model served in `regions` may be used; a model of unknown region may not when
    /// regions are restricted.
    pub fn allows_regions(&self, regions: &[String]) -> bool {
        self.allowed_regions.is_empty() || regions.iter().any(|r| self.allowed_regions.contains(r))
    }
}
