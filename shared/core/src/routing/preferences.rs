//! An organisation's routing preferences: what `auto` optimises for, the bar candidates must
//! meet, which providers and models it may use, and how it falls back.
//!
//! The configuration's `[routing]` section gives every organisation's starting point; an
//! organisation that stored its own [`OrgRoutingPreferences`] (the product's documented JSON
//! object) gets those instead, over the configured ones.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

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

/// An organisation's stored routing preferences: the documented object, read and written
/// whole. Every field has the product's default, so `{}` is valid. A client's document is
/// read with [`OrgRoutingPreferences::from_json`], which refuses unknown fields so that a
/// misspelt preference is an error; a stored one is read leniently, so that a body written by
/// a newer version still loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgRoutingPreferences {
    pub default_priority: Priority,
    pub quality_threshold: f64,
    pub max_latency_ms: Option<u64>,
    pub allowed_providers: Vec<String>,
    pub blocked_providers: Vec<String>,
    pub allowed_models: Vec<String>,
    pub blocked_models: Vec<String>,
    pub fallback_enabled: bool,
    pub fallback_chain: Vec<String>,
    /// The organisation's usual model, the baseline of its savings; the configured
    /// `routing.default_model` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<String>,
}

impl Default for OrgRoutingPreferences {
    fn default() -> Self {
        let base = RoutingPreferences::default();
        OrgRoutingPreferences {
            default_priority: base.default_priority,
            quality_threshold: base.quality_threshold,
            max_latency_ms: None,
            allowed_providers: Vec::new(),
            blocked_providers: Vec::new(),
            allowed_models: Vec::new(),
            blocked_models: Vec::new(),
            fallback_enabled: base.fallback_enabled,
            fallback_chain: Vec::new(),
            default_model: None,
        }
    }
}

/// The document's fields, for refusing unknown ones.
const FIELDS: &[&str] = &[
    "default_priority",
    "quality_threshold",
    "max_latency_ms",
    "allowed_providers",
    "blocked_providers",
    "allowed_models",
    "blocked_models",
    "fallback_enabled",
    "fallback_chain",
    "default_model",
];

/// A stored preference that cannot be used: the field's name and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidPreference {
    pub field: String,
    pub message: String,
}

impl InvalidPreference {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        InvalidPreference {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl OrgRoutingPreferences {
    /// The document describing `preferences` (lists sorted), as an organisation without
    /// stored preferences sees its configured ones.
    pub fn describing(preferences: &RoutingPreferences) -> Self {
        let sorted = |set: &HashSet<String>| {
            let mut v: Vec<String> = set.iter().cloned().collect();
            v.sort();
            v
        };
        OrgRoutingPreferences {
            default_priority: preferences.default_priority,
            quality_threshold: preferences.quality_threshold,
            max_latency_ms: preferences.max_latency_ms,
            allowed_providers: sorted(&preferences.allowed_providers),
            blocked_providers: sorted(&preferences.blocked_providers),
            allowed_models: sorted(&preferences.allowed_models),
            blocked_models: sorted(&preferences.blocked_models),
            fallback_enabled: preferences.fallback_enabled,
            fallback_chain: preferences.fallback_chain.clone(),
            default_model: preferences.default_model.clone(),
        }
    }

    /// Parses and checks a JSON document; the error names the offending field.
    pub fn from_json(bytes: &[u8]) -> Result<Self, InvalidPreference> {
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(bytes)
            && let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str()))
        {
            return Err(InvalidPreference::new(
                unknown.clone(),
                format!(
                    "is not a routing preference (they are: {})",
                    FIELDS.join(", ")
                ),
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let doc: Self = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            InvalidPreference::new(field, e.into_inner().to_string())
        })?;
        doc.validate()?;
        Ok(doc)
    }

    /// The checks that need no catalog: ranges and non-empty names. Whether each named model
    /// is routable depends on the deployment and is checked where the router is known.
    pub fn validate(&self) -> Result<(), InvalidPreference> {
        if !(0.0..=1.0).contains(&self.quality_threshold) {
            return Err(InvalidPreference::new(
                "quality_threshold",
                "must be a number from 0 to 1",
            ));
        }
        if self.max_latency_ms == Some(0) {
            return Err(InvalidPreference::new(
                "max_latency_ms",
                "must be at least 1",
            ));
        }
        for (field, names) in self.name_lists() {
            if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
                return Err(InvalidPreference::new(
                    format!("{field}[{i}]"),
                    "must not be empty",
                ));
            }
        }
        if self
            .default_model
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err(InvalidPreference::new("default_model", "must not be empty"));
        }
        Ok(())
    }

    /// Every list of names with its field name, for checks against the deployment's models.
    pub fn name_lists(&self) -> [(&'static str, &[String]); 5] {
        [
            ("allowed_providers", &self.allowed_providers),
            ("blocked_providers", &self.blocked_providers),
            ("allowed_models", &self.allowed_models),
            ("blocked_models", &self.blocked_models),
            ("fallback_chain", &self.fallback_chain),
        ]
    }

    /// These preferences in force over the configured `base`: every documented field is the
    /// organisation's; regions and the attempt budget stay the deployment's.
    pub fn over(&self, base: &RoutingPreferences) -> RoutingPreferences {
        let set = |v: &[String]| v.iter().cloned().collect();
        RoutingPreferences {
            default_model: self
                .default_model
                .clone()
                .or_else(|| base.default_model.clone()),
            default_priority: self.default_priority,
            quality_threshold: self.quality_threshold,
            max_latency_ms: self.max_latency_ms,
            allowed_providers: set(&self.allowed_providers),
            blocked_providers: set(&self.blocked_providers),
            allowed_models: set(&self.allowed_models),
            blocked_models: set(&self.blocked_models),
            allowed_regions: base.allowed_regions.clone(),
            fallback_enabled: self.fallback_enabled,
            fallback_chain: self.fallback_chain.clone(),
            max_attempts: base.max_attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_object_parses_and_replaces_the_configured_preferences() {
        let doc: OrgRoutingPreferences = serde_json::from_str(
            r#"{"default_priority": "latency", "quality_threshold": 0.8, "max_latency_ms": 3000,
                "allowed_providers": ["openai", "anthropic"], "blocked_providers": [],
                "allowed_models": [], "blocked_models": ["openai/gpt-4o"],
                "fallback_enabled": true, "fallback_chain": ["anthropic/claude-3-haiku"]}"#,
        )
        .unwrap();
        doc.validate().unwrap();
        let base = RoutingPreferences {
            default_model: Some("openai/gpt-4o".into()),
            allowed_regions: ["eu".to_owned()].into(),
            max_attempts: 2,
            blocked_providers: ["groq".to_owned()].into(),
            ..RoutingPreferences::default()
        };
        let merged = doc.over(&base);
        assert_eq!(merged.default_priority, Priority::Latency);
        assert_eq!(merged.quality_threshold, 0.8);
        assert_eq!(merged.max_latency_ms, Some(3000));
        assert!(merged.blocked_providers.is_empty());
        assert_eq!(
            merged.forbids("groq", "groq/x"),
            Some("provider_not_allowed")
        );
        assert_eq!(
            merged.forbids("openai", "openai/gpt-4o"),
            Some("model_not_allowed")
        );
        assert_eq!(merged.forbids("openai", "openai/gpt-4o-mini"), None);
        assert_eq!(merged.default_model.as_deref(), Some("openai/gpt-4o"));
        assert_eq!(merged.max_attempts, 2);
        assert_eq!(merged.allowed_regions, base.allowed_regions);
    }

    #[test]
    fn invalid_preferences_name_their_field() {
        let bad = |json: &str| OrgRoutingPreferences::from_json(json.as_bytes()).unwrap_err();
        assert_eq!(
            bad(r#"{"quality_threshold": 1.5}"#).field,
            "quality_threshold"
        );
        assert_eq!(bad(r#"{"max_latency_ms": 0}"#).field, "max_latency_ms");
        assert_eq!(
            bad(r#"{"fallback_chain": ["a", " "]}"#).field,
            "fallback_chain[1]"
        );
        assert_eq!(
            bad(r#"{"quality_treshold": 0.5}"#).field,
            "quality_treshold"
        );
        // Stored bodies written by a newer version still read.
        let stored: OrgRoutingPreferences =
            serde_json::from_str(r#"{"fallback_enabled": false, "newer_field": 1}"#).unwrap();
        assert!(!stored.fallback_enabled);
        assert_eq!(
            bad(r#"{"default_priority": "speed"}"#).field,
            "default_priority"
        );
        assert_eq!(bad(r#"{"fallback_chain": [1]}"#).field, "fallback_chain[0]");
        assert_eq!(
            OrgRoutingPreferences::from_json(b"{}").unwrap(),
            Default::default()
        );
    }
}
