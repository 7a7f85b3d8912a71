//! The model catalog: prices, limits and capabilities of every model the gateway can route to.
//!
//! It is a data file (`catalog/models.toml`, built in) that a deployment replaces or extends, so
//! a price change is a config change, not a release.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::wire::Usage;

const BUILT_IN: &str = include_str!("../catalog/models.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Chat,
    Embedding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Tools,
    Vision,
    JsonMode,
    JsonSchema,
    Streaming,
    Logprobs,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// `provider/model`, as clients name it.
    pub id: String,
    /// The provider's own name for the model; defaults to `id` without the provider prefix.
    #[serde(default)]
    pub upstream: Option<String>,
    pub kind: ModelKind,
    pub input_per_mtok: f64,
    #[serde(default)]
    pub cached_input_per_mtok: Option<f64>,
    pub output_per_mtok: f64,
    pub context_window: u64,
    pub max_output_tokens: u64,
    #[serde(default)]
    pub dimensions: Option<u32>,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Prior answer quality, 0-1 (a public benchmark aggregate); `None` when unknown.
    #[serde(default)]
    pub quality: Option<f64>,
    /// Prior time to the first token.
    #[serde(default)]
    pub ttft_ms: Option<f64>,
    /// Prior output throughput.
    #[serde(default)]
    pub tokens_per_second: Option<f64>,
    /// Where the provider serves the model by default (`us`, `eu`); empty when unknown.
    #[serde(default)]
    pub regions: Vec<String>,
}

impl ModelEntry {
    /// A model a deployment declared without catalog data (a self-hosted server's model): free,
    /// with the capabilities such servers commonly have.
    pub fn declared(provider: &str, model: &str, kind: ModelKind) -> Self {
        ModelEntry {
            id: format!("{provider}/{model}"),
            upstream: Some(model.to_owned()),
            kind,
            input_per_mtok: 0.0,
            cached_input_per_mtok: None,
            output_per_mtok: 0.0,
            context_window: 0,
            max_output_tokens: 0,
            dimensions: None,
            capabilities: match kind {
                ModelKind::Chat => vec![
                    Capability::Tools,
                    Capability::JsonMode,
                    Capability::Streaming,
                ],
                ModelKind::Embedding => Vec::new(),
            },
            quality: None,
            ttft_ms: None,
            tokens_per_second: None,
            regions: Vec::new(),
        }
    }

    pub fn provider(&self) -> &str {
        self.id.split_once('/').map_or("", |(p, _)| p)
    }

    pub fn upstream_name(&self) -> &str {
        self.upstream
            .as_deref()
            .unwrap_or_else(|| self.id.split_once('/').map_or(&*self.id, |(_, m)| m))
    }

    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// What a request with this usage costs, in USD. Cached prompt tokens are billed at the
    /// cached price where the provider has one.
    pub fn cost_usd(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_prompt_tokens().min(usage.prompt_tokens);
        let fresh = usage.prompt_tokens - cached;
        let cached_price = self.cached_input_per_mtok.unwrap_or(self.input_per_mtok);
        (fresh as f64 * self.input_per_mtok
            + cached as f64 * cached_price
            + usage.completion_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the catalog file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the catalog {origin} is not valid")]
    Parse {
        origin: String,
        source: Box<toml::de::Error>,
    },
    #[error("the catalog {origin} is not valid: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    model: Vec<ModelEntry>,
}

/// All known models, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    models: Vec<ModelEntry>,
    by_id: HashMap<String, usize>,
}

impl Catalog {
    pub fn built_in() -> Result<Self, CatalogError> {
        Self::parse(BUILT_IN, "built into the gateway")
    }

    /// The built-in catalog with a file's entries added; an entry with a known id replaces it.
    pub fn built_in_extended_by(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut catalog = Self::built_in()?;
        for entry in Self::parse(&text, &path.display().to_string())?.models {
            catalog.insert(entry);
        }
        Ok(catalog)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| CatalogError::Parse {
            origin: origin.to_owned(),
            source: Box::new(e),
        })?;
        let mut catalog = Catalog::default();
        for entry in file.model {
            if entry.provider().is_empty() {
                return Err(CatalogError::Invalid {
                    origin: origin.to_owned(),
                    message: format!("model id `{}` must be `provider/model`", entry.id),
                });
            }
            let prices = [entry.input_per_mtok, entry.output_per_mtok];
            if prices.iter().any(|p| !p.is_finite() || *p < 0.0) {
                return Err(CatalogError::Invalid {
                    origin: origin.to_owned(),
                    message: format!("model `{}` has a negative or non-finite price", entry.id),
                });
            }
            if entry.quality.is_some_and(|q| !(0.0..=1.0).contains(&q)) {
                return Err(CatalogError::Invalid {
                    origin: origin.to_owned(),
                    message: format!("model `{}`: `quality` must be from 0 to 1", entry.id),
                });
            }
            let speeds = [entry.ttft_ms, entry.tokens_per_second];
            if speeds.iter().flatten().any(|v| !v.is_finite() || *v <= 0.0) {
                return Err(CatalogError::Invalid {
                    origin: origin.to_owned(),
                    message: format!(
                        "model `{}`: `ttft_ms` and `tokens_per_second` must be positive",
                        entry.id
                    ),
                });
            }
            catalog.insert(entry);
        }
        Ok(catalog)
    }

    pub fn insert(&mut self, entry: ModelEntry) {
        match self.by_id.get(&entry.id) {
            Some(&i) => self.models[i] = entry,
            None => {
                self.by_id.insert(entry.id.clone(), self.models.len());
                self.models.push(entry);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.by_id.get(id).map(|&i| &self.models[i])
    }

    pub fn models(&self) -> impl Iterator<Item = &ModelEntry> {
        self.models.iter()
    }

    pub fn for_provider<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a ModelEntry> {
        self.models.iter().filter(move |m| m.provider() == provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalog_parses_and_names_providers() {
        let catalog = Catalog::built_in().unwrap();
        let gpt = catalog.get("openai/gpt-4o").unwrap();
        assert_eq!(gpt.provider(), "openai");
        assert_eq!(gpt.upstream_name(), "gpt-4o");
        let together = catalog
            .get("together/meta-llama/Llama-3.3-70B-Instruct-Turbo")
            .unwrap();
        assert_eq!(
            together.upstream_name(),
            "meta-llama/Llama-3.3-70B-Instruct-Turbo"
        );
    }

    #[test]
    fn cost_uses_input_output_and_cached_prices() {
        let catalog = Catalog::built_in().unwrap();
        let gpt = catalog.get("openai/gpt-4o").unwrap();
        let mut usage = Usage::new(1_000_000, 1_000_000);
        assert!((gpt.cost_usd(&usage) - 12.5).abs() < 1e-9);
        usage.extra.insert(
            "prompt_tokens_details".into(),
            serde_json::json!({"cached_tokens": 1_000_000}),
        );
        assert!((gpt.cost_usd(&usage) - 11.25).abs() < 1e-9);
    }

    #[test]
    fn every_built_in_chat_model_has_routing_priors() {
        let catalog = Catalog::built_in().unwrap();
        for model in catalog.models().filter(|m| m.kind == ModelKind::Chat) {
            assert!(model.quality.is_some(), "{}", model.id);
            assert!(model.ttft_ms.is_some(), "{}", model.id);
            assert!(model.tokens_per_second.is_some(), "{}", model.id);
            assert!(!model.regions.is_empty(), "{}", model.id);
        }
    }

    #[test]
    fn an_entry_without_a_provider_prefix_is_rejected() {
        let err = Catalog::parse(
            "[[model]]\nid = \"gpt\"\nkind = \"chat\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 1\nmax_output_tokens = 1\n",
            "test",
        )
        .unwrap_err();
        assert!(err.to_string().contains("provider/model"));
    }
}
