//! Which model serves a request: the one the client named, or for `auto` the cheapest configured
//! model that can do what the request needs.

use std::collections::HashMap;

use crate::catalog::{Capability, Catalog, ModelEntry, ModelKind};
use crate::config::ResolvedProvider;
use crate::error::ApiError;
use crate::receipt::RoutingDecision;
use crate::wire::{ChatRequest, ResponseFormat};

/// The model name that asks the gateway to choose.
pub const AUTO: &str = "auto";

/// A routing outcome.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    pub model: &'a ModelEntry,
    pub decision: RoutingDecision,
}

/// The routable models: catalog entries of configured providers plus models declared in config.
#[derive(Debug, Clone)]
pub struct ModelRouter {
    models: Vec<ModelEntry>,
    by_id: HashMap<String, usize>,
    /// Provider-less names (`gpt-4o`) that point at exactly one routable model.
    by_bare_name: HashMap<String, usize>,
    default_model: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
#[error("routing.default_model: {0}")]
pub struct RoutingConfigError(String);

impl ModelRouter {
    pub fn new(
        catalog: &Catalog,
        providers: &[ResolvedProvider],
        default_model: Option<&str>,
    ) -> Result<Self, RoutingConfigError> {
        let mut models: Vec<ModelEntry> = Vec::new();
        for provider in providers {
            let declared = provider.models.iter().map(|m| (m, ModelKind::Chat)).chain(
                provider
                    .embedding_models
                    .iter()
                    .map(|m| (m, ModelKind::Embedding)),
            );
            for entry in catalog.for_provider(&provider.id) {
                models.push(entry.clone());
            }
            for (name, kind) in declared {
                let id = format!("{}/{name}", provider.id);
                if !models.iter().any(|m| m.id == id) {
                    models.push(
                        catalog
                            .get(&id)
                            .cloned()
                            .unwrap_or_else(|| ModelEntry::declared(&provider.id, name, kind)),
                    );
                }
            }
        }
        let by_id: HashMap<String, usize> = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        let mut bare_counts: HashMap<&str, (usize, usize)> = HashMap::new();
        for (i, m) in models.iter().enumerate() {
            bare_counts.entry(m.upstream_name()).or_insert((i, 0)).1 += 1;
        }
        let by_bare_name = bare_counts
            .into_iter()
            .filter(|(_, (_, count))| *count == 1)
            .map(|(name, (i, _))| (name.to_owned(), i))
            .collect();
        let default_model = match default_model {
            Some(id) => Some(*by_id.get(id).ok_or_else(|| {
                RoutingConfigError(format!("`{id}` is not a model of a configured provider"))
            })?),
            None => None,
        };
        Ok(ModelRouter {
            models,
            by_id,
            by_bare_name,
            default_model,
        })
    }

    /// Every routable model, in catalog order.
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    fn lookup(&self, requested: &str) -> Option<&ModelEntry> {
        self.by_id
            .get(requested)
            .or_else(|| self.by_bare_name.get(requested))
            .map(|&i| &self.models[i])
    }

    pub fn route_chat(&self, request: &ChatRequest) -> Result<Route<'_>, ApiError> {
        if request.model == AUTO {
            return self.route_auto(request);
        }
        match self.lookup(&request.model) {
            Some(model) if model.kind == ModelKind::Chat => Ok(Route {
                model,
                decision: RoutingDecision::Direct,
            }),
            // OpenAI answers a non-chat model on this endpoint with a 404 too.
            Some(_) => Err(ApiError::model_not_found(
                &request.model,
                "It is an embedding model: use /v1/embeddings.",
            )),
            None => Err(self.not_found(&request.model)),
        }
    }

    pub fn route_embedding(&self, requested: &str) -> Result<&ModelEntry, ApiError> {
        match self.lookup(requested) {
            Some(model) if model.kind == ModelKind::Embedding => Ok(model),
            Some(_) => Err(ApiError::model_not_found(
                requested,
                "It is a chat model: use /v1/chat/completions.",
            )),
            None => Err(self.not_found(requested)),
        }
    }

    fn route_auto(&self, request: &ChatRequest) -> Result<Route<'_>, ApiError> {
        let needs = required_capabilities(request);
        let capable =
            |m: &&ModelEntry| m.kind == ModelKind::Chat && needs.iter().all(|c| m.has(*c));
        if let Some(model) = self.default_model.map(|i| &self.models[i]).filter(capable) {
            return Ok(Route {
                model,
                decision: RoutingDecision::CostOptimized,
            });
        }
        self.models
            .iter()
            .filter(capable)
            .min_by(|a, b| blended_price(a).total_cmp(&blended_price(b)))
            .map(|model| Route {
                model,
                decision: RoutingDecision::CostOptimized,
            })
            .ok_or_else(|| {
                ApiError::new(
                    crate::error::ErrorKind::Unavailable,
                    format!(
                        "No configured model can serve this request with `auto` (it needs: {}). \
                         Configure a provider that has such a model, or name a model.",
                        if needs.is_empty() {
                            "chat".to_owned()
                        } else {
                            needs
                                .iter()
                                .map(|c| format!("{c:?}").to_lowercase())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                )
                .with_code("no_capable_model")
            })
    }

    fn not_found(&self, requested: &str) -> ApiError {
        let hint = if requested.contains('/') {
            "Use a `provider/model` id listed by GET /v1/models, or `auto`."
        } else {
            "Name models as `provider/model` (GET /v1/models lists them), or use `auto`."
        };
        ApiError::model_not_found(requested, hint)
    }
}

/// The catalog capabilities a request cannot do without.
fn required_capabilities(request: &ChatRequest) -> Vec<Capability> {
    let mut needs = Vec::new();
    if request.uses_tools() {
        needs.push(Capability::Tools);
    }
    if request.has_images() {
        needs.push(Capability::Vision);
    }
    match request.response_format {
        Some(ResponseFormat::JsonObject) => needs.push(Capability::JsonMode),
        Some(ResponseFormat::JsonSchema { .. }) => needs.push(Capability::JsonSchema),
        _ => {}
    }
    if request.is_stream() {
        needs.push(Capability::Streaming);
    }
    if request.logprobs == Some(true) {
        needs.push(Capability::Logprobs);
    }
    needs
}

/// Price of a typical chat turn (three prompt tokens for every completion token).
fn blended_price(model: &ModelEntry) -> f64 {
    3.0 * model.input_per_mtok + model.output_per_mtok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Dialect;
    use crate::wire::parse_json_body;

    fn provider(id: &str, dialect: Dialect, models: &[&str]) -> ResolvedProvider {
        ResolvedProvider {
            id: id.into(),
            dialect,
            base_url: "http://127.0.0.1:1".into(),
            api_key: None,
            models: models.iter().map(|m| m.to_string()).collect(),
            embedding_models: vec![],
            aws: None,
        }
    }

    fn router() -> ModelRouter {
        let catalog = Catalog::built_in().unwrap();
        ModelRouter::new(
            &catalog,
            &[
                provider("openai", Dialect::Openai, &[]),
                provider("groq", Dialect::Groq, &[]),
                provider("local", Dialect::OpenaiCompatible, &["llama3"]),
            ],
            None,
        )
        .unwrap()
    }

    fn chat(model: &str, extra: &str) -> ChatRequest {
        parse_json_body(
            format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]{extra}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn a_named_model_routes_directly_and_bare_names_resolve() {
        let router = router();
        let route = router.route_chat(&chat("openai/gpt-4o", "")).unwrap();
        assert_eq!(route.model.id, "openai/gpt-4o");
        assert_eq!(route.decision, RoutingDecision::Direct);
        assert_eq!(
            router.route_chat(&chat("gpt-4o", "")).unwrap().model.id,
            "openai/gpt-4o"
        );
        assert_eq!(
            router
                .route_chat(&chat("local/llama3", ""))
                .unwrap()
                .model
                .id,
            "local/llama3"
        );
    }

    #[test]
    fn unknown_models_and_unconfigured_providers_are_404() {
        let router = router();
        for model in ["openai/gpt-9", "mistral/mistral-large-latest", "nope"] {
            let err = router.route_chat(&chat(model, "")).unwrap_err();
            assert_eq!(err.code.as_deref(), Some("model_not_found"), "{model}");
        }
    }

    #[test]
    fn auto_picks_the_cheapest_model_with_the_needed_capabilities() {
        let router = router();
        // The self-hosted model is free.
        assert_eq!(
            router.route_chat(&chat("auto", "")).unwrap().model.id,
            "local/llama3"
        );
        let with_image = r#","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]"#;
        let req: ChatRequest =
            parse_json_body(format!(r#"{{"model":"auto"{with_image}}}"#).as_bytes()).unwrap();
        assert_eq!(
            router.route_chat(&req).unwrap().model.id,
            "openai/gpt-4.1-nano"
        );
    }

    #[test]
    fn embedding_and_chat_models_are_not_interchangeable() {
        let router = router();
        assert!(
            router
                .route_chat(&chat("openai/text-embedding-3-small", ""))
                .is_err()
        );
        assert!(router.route_embedding("openai/gpt-4o").is_err());
        assert_eq!(
            router.route_embedding("text-embedding-3-small").unwrap().id,
            "openai/text-embedding-3-small"
        );
    }
}
