//! Which models serve a request, in which order: the one the client named, or for `auto` the
//! best candidate by the request's analysis, hints and the organisation's preferences; then
//! its fallbacks.
//!
//! - [`hints`]: `x-routing-hints` and `x-fallback-chain`.
//! - [`preferences`]: an organisation's routing preferences.
//! - [`analysis`]: tokens, expected output, needed capabilities, difficulty.
//! - [`prompt_size`]: a prompt's tokens in bounded time, exact where a context window is near.
//! - [`quality`]: the predicted quality of each candidate.
//! - [`auto`]: filtering, scoring and choosing for `auto`.

pub mod analysis;
pub mod auto;
pub mod hints;
pub mod preferences;
pub mod prompt_size;
pub mod quality;

use std::collections::HashMap;

use crate::catalog::{Capability, Catalog, ModelEntry, ModelKind};
use crate::config::ResolvedProvider;
use crate::error::{ApiError, ErrorKind};
use crate::receipt::{RoutingDecision, RoutingReport};
use crate::wire::ChatRequest;

pub use analysis::{RequestAnalysis, analyse, required_capabilities, task_text};
pub use auto::AutoInputs;
pub use hints::{FALLBACK_FIELD, HINTS_FIELD, Priority, RoutingHints};
pub use preferences::{InvalidPreference, OrgRoutingPreferences, RoutingPreferences};
pub use quality::{PRIOR, PriorQualityPredictor, QualityPredictor};

/// The model name that asks the gateway to choose.
pub const AUTO: &str = "auto";

/// The models to call for one request, in order, and how the first was chosen.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub decision: RoutingDecision,
    /// The chosen model first, then its fallbacks.
    pub attempts: Vec<&'a ModelEntry>,
    /// For `auto`, the other candidates that meet the bar, best first, none of them in
    /// `attempts`: each stands in for an attempt whose provider cannot take the request (`n`
    /// above 1 on Groq, say), which the catalog's capabilities do not tell.
    pub alternates: Vec<&'a ModelEntry>,
    pub report: RoutingReport,
}

/// The routable models: catalog entries of configured providers plus models declared in config.
#[derive(Debug, Clone)]
pub struct ModelRouter {
    models: Vec<ModelEntry>,
    by_id: HashMap<String, usize>,
    /// Provider-less names (`gpt-4o`) that point at exactly one routable model.
    by_bare_name: HashMap<String, usize>,
    default_model: Option<usize>,
    /// The distinct known context windows of the chat models, for [`analyse`].
    context_windows: Vec<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("routing.{0}")]
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
                RoutingConfigError(format!(
                    "default_model: `{id}` is not a model of a configured provider"
                ))
            })?),
            None => None,
        };
        let mut context_windows: Vec<u64> = models
            .iter()
            .filter(|m| m.kind == ModelKind::Chat && m.context_window > 0)
            .map(|m| m.context_window)
            .collect();
        context_windows.sort_unstable();
        context_windows.dedup();
        Ok(ModelRouter {
            models,
            by_id,
            by_bare_name,
            default_model,
            context_windows,
        })
    }

    /// Every routable model, in catalog order.
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// The context windows `auto` filters by: the prompt sizes [`analyse`] counts exactly near.
    pub fn context_windows(&self) -> &[u64] {
        &self.context_windows
    }

    fn lookup(&self, requested: &str) -> Option<&ModelEntry> {
        self.by_id
            .get(requested)
            .or_else(|| self.by_bare_name.get(requested))
            .map(|&i| &self.models[i])
    }

    /// The chat model a client named (`provider/model` or a bare name).
    pub fn chat_model(&self, requested: &str) -> Result<&ModelEntry, ApiError> {
        match self.lookup(requested) {
            Some(model) if model.kind == ModelKind::Chat => Ok(model),
            // OpenAI answers a non-chat model on this endpoint with a 404 too.
            Some(_) => Err(ApiError::model_not_found(
                requested,
                "It is an embedding model: use /v1/embeddings.",
            )),
            None => Err(self.not_found(requested)),
        }
    }

    /// The plan of a request that names its model: that model, then its fallbacks. No
    /// analysis happens here, so direct requests pay nothing for `auto`.
    pub fn plan_direct(
        &self,
        request: &ChatRequest,
        fallback_chain: Option<&[String]>,
        preferences: &RoutingPreferences,
    ) -> Result<Plan<'_>, ApiError> {
        let model = self.chat_model(&request.model)?;
        if let Some(reason) = preferences.forbids(model.provider(), &model.id) {
            return Err(ApiError::new(
                ErrorKind::Permission,
                format!(
                    "The model `{}` may not be used: the routing preferences do not allow it \
                     ({reason}).",
                    model.id
                ),
            )
            .with_code(reason)
            .with_param("model"));
        }
        let needs = required_capabilities(request);
        let mut attempts = vec![model];
        attempts.extend(self.fallbacks(&attempts, fallback_chain, &[], preferences, &needs)?);
        Ok(Plan {
            decision: RoutingDecision::Direct,
            attempts,
            alternates: Vec::new(),
            report: RoutingReport {
                strategy: RoutingDecision::Direct,
                candidates_evaluated: 0,
                candidates: Vec::new(),
                filtered_out: Default::default(),
                winner: model.id.clone(),
                reason: "Named by the client".to_owned(),
                quality_predictor: None,
            },
        })
    }

    /// The plan of an `auto` request: the best candidate, then fallbacks.
    pub fn plan_auto(
        &self,
        inputs: &AutoInputs<'_>,
        fallback_chain: Option<&[String]>,
    ) -> Result<Plan<'_>, ApiError> {
        let choice = auto::choose(&self.models, inputs).map_err(|filtered| {
            let reasons: Vec<String> = filtered
                .iter()
                .map(|(reason, n)| format!("{reason}: {n}"))
                .collect();
            ApiError::new(
                ErrorKind::Unavailable,
                format!(
                    "No configured model can serve this request with `auto` (models left out \
                     by {}). Relax the hints or preferences, or name a model.",
                    if reasons.is_empty() {
                        "none: no chat model is configured".to_owned()
                    } else {
                        reasons.join(", ")
                    }
                ),
            )
            .with_code("no_capable_model")
        })?;
        let winner = choice.ranked[0];
        let any_meets_bar = choice.report.candidates.iter().any(|c| c.meets_bar);
        let automatic: Vec<&ModelEntry> = choice
            .ranked
            .iter()
            .zip(&choice.report.candidates)
            .skip(1)
            .filter(|(_, c)| c.meets_bar || !any_meets_bar)
            .map(|(m, _)| *m)
            .collect();
        let mut attempts = vec![winner];
        attempts.extend(self.fallbacks(
            &attempts,
            fallback_chain,
            &automatic,
            inputs.preferences,
            &inputs.analysis.needs,
        )?);
        let alternates = automatic
            .into_iter()
            .filter(|m| !attempts.iter().any(|a| a.id == m.id))
            .collect();
        Ok(Plan {
            decision: choice.report.strategy,
            attempts,
            alternates,
            report: choice.report,
        })
    }

    /// What to try after the first model: the request's chain when it has one; otherwise the
    /// automatic candidates (each next one from a provider not tried yet, where there is one),
    /// then the organisation's chain. Models the preferences forbid or that lack a needed
    /// capability are left out.
    fn fallbacks<'a>(
        &'a self,
        first: &[&'a ModelEntry],
        request_chain: Option<&[String]>,
        automatic: &[&'a ModelEntry],
        preferences: &RoutingPreferences,
        needs: &[Capability],
    ) -> Result<Vec<&'a ModelEntry>, ApiError> {
        if !preferences.fallback_enabled {
            return Ok(Vec::new());
        }
        let mut order: Vec<&ModelEntry> = Vec::new();
        match request_chain {
            Some(chain) => {
                for (i, name) in chain.iter().enumerate() {
                    let model = self
                        .chat_model(name)
                        .map_err(|e| e.with_param(format!("{FALLBACK_FIELD}[{i}]")))?;
                    order.push(model);
                }
            }
            None => {
                order.extend(diverse_providers(first, automatic));
                for name in &preferences.fallback_chain {
                    if let Some(&i) = self.by_id.get(name) {
                        order.push(&self.models[i]);
                    }
                }
            }
        }
        let mut chosen: Vec<&ModelEntry> = Vec::new();
        let budget = preferences.max_attempts.saturating_sub(first.len());
        for model in order {
            if chosen.len() >= budget {
                break;
            }
            let usable = model.kind == ModelKind::Chat
                && needs.iter().all(|c| model.has(*c))
                && preferences.forbids(model.provider(), &model.id).is_none();
            let seen = first.iter().chain(&chosen).any(|m| m.id == model.id);
            if usable && !seen {
                chosen.push(model);
            }
        }
        Ok(chosen)
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

    /// The model `routing.default_model` names, the baseline of savings.
    pub fn default_model(&self) -> Option<&ModelEntry> {
        self.default_model.map(|i| &self.models[i])
    }

    /// The baseline of savings under `preferences`: their default model when it is routable,
    /// else the configured one.
    pub fn baseline(&self, preferences: &RoutingPreferences) -> Option<&ModelEntry> {
        preferences
            .default_model
            .as_deref()
            .and_then(|id| self.chat_model(id).ok())
            .or_else(|| self.default_model())
    }

    /// Checks an organisation's preferences against the routable models and providers; the
    /// error names the field (`fallback_chain[1]`).
    pub fn check_org_preferences(
        &self,
        preferences: &OrgRoutingPreferences,
    ) -> Result<(), InvalidPreference> {
        preferences.validate()?;
        for (field, names) in preferences.name_lists() {
            let is_provider_list = field.ends_with("_providers");
            for (i, name) in names.iter().enumerate() {
                let known = if is_provider_list {
                    self.models.iter().any(|m| m.provider() == name)
                } else {
                    self.chat_model(name).is_ok()
                };
                if !known {
                    let what = if is_provider_list {
                        "a configured provider"
                    } else {
                        "a chat model of a configured provider"
                    };
                    return Err(InvalidPreference::new(
                        format!("{field}[{i}]"),
                        format!("`{name}` is not {what}"),
                    ));
                }
            }
        }
        if let Some(model) = &preferences.default_model
            && self.chat_model(model).is_err()
        {
            return Err(InvalidPreference::new(
                "default_model",
                format!("`{model}` is not a chat model of a configured provider"),
            ));
        }
        Ok(())
    }

    /// Checks that every model a preference names is routable.
    pub fn check_models<'n>(
        &self,
        field: &str,
        names: impl IntoIterator<Item = &'n String>,
    ) -> Result<(), RoutingConfigError> {
        for name in names {
            if self.chat_model(name).is_err() {
                return Err(RoutingConfigError(format!(
                    "{field}: `{name}` is not a chat model of a configured provider"
                )));
            }
        }
        Ok(())
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

/// `automatic` reordered so that each next model comes from a provider not tried yet while
/// there is one, keeping the ranking otherwise.
fn diverse_providers<'a>(
    first: &[&'a ModelEntry],
    automatic: &[&'a ModelEntry],
) -> Vec<&'a ModelEntry> {
    let mut tried: Vec<&str> = first.iter().map(|m| m.provider()).collect();
    let mut left: Vec<&ModelEntry> = automatic.to_vec();
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let next = left
            .iter()
            .position(|m| !tried.contains(&m.provider()))
            .unwrap_or(0);
        let model = left.remove(next);
        tried.push(model.provider());
        order.push(model);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{
        Admission, BreakerSettings, HealthStore, InMemoryHealth, ManualClock, Outcome,
    };
    use crate::providers::Dialect;
    use crate::wire::parse_json_body;
    use std::sync::Arc;

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
                provider("anthropic", Dialect::Anthropic, &[]),
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

    struct Auto {
        router: ModelRouter,
        preferences: RoutingPreferences,
        health: InMemoryHealth,
    }

    impl Auto {
        fn new() -> Self {
            Auto {
                router: router(),
                preferences: RoutingPreferences::default(),
                health: InMemoryHealth::new(
                    BreakerSettings::default(),
                    Arc::new(ManualClock::default()),
                ),
            }
        }

        fn plan(&self, request: &ChatRequest, hints: RoutingHints) -> Result<Plan<'_>, ApiError> {
            let analysis = analyse(request, self.router.context_windows());
            self.router.plan_auto(
                &AutoInputs {
                    analysis: &analysis,
                    hints: &hints,
                    preferences: &self.preferences,
                    health: &self.health,
                    predictor: &PriorQualityPredictor,
                    affordable: None,
                },
                request.fallback_chain.as_deref(),
            )
        }

        fn winner(&self, hints: RoutingHints) -> String {
            self.plan(&chat("auto", ""), hints).unwrap().attempts[0]
                .id
                .clone()
        }
    }

    fn ids<'a>(plan: &'a Plan<'_>) -> Vec<&'a str> {
        plan.attempts.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn a_named_model_routes_directly_and_bare_names_resolve() {
        let router = router();
        let prefs = RoutingPreferences::default();
        let plan = router
            .plan_direct(&chat("openai/gpt-4o", ""), None, &prefs)
            .unwrap();
        assert_eq!(ids(&plan), ["openai/gpt-4o"]);
        assert_eq!(plan.decision, RoutingDecision::Direct);
        assert_eq!(router.chat_model("gpt-4o").unwrap().id, "openai/gpt-4o");
        assert_eq!(
            router.chat_model("local/llama3").unwrap().id,
            "local/llama3"
        );
    }

    #[test]
    fn unknown_models_and_unconfigured_providers_are_404() {
        let router = router();
        for model in ["openai/gpt-9", "mistral/mistral-large-latest", "nope"] {
            let err = router.chat_model(model).unwrap_err();
            assert_eq!(err.code.as_deref(), Some("model_not_found"), "{model}");
        }
    }

    #[test]
    fn a_direct_request_follows_its_chain_then_nothing_else() {
        let router = router();
        let mut prefs = RoutingPreferences {
            fallback_chain: vec!["anthropic/claude-haiku-4-5".into()],
            ..RoutingPreferences::default()
        };
        let chain = vec!["groq/llama-3.1-8b-instant".to_owned(), "gpt-4o".to_owned()];
        let plan = router
            .plan_direct(&chat("openai/gpt-4o-mini", ""), Some(&chain), &prefs)
            .unwrap();
        assert_eq!(
            ids(&plan),
            [
                "openai/gpt-4o-mini",
                "groq/llama-3.1-8b-instant",
                "openai/gpt-4o"
            ]
        );
        let plan = router
            .plan_direct(&chat("openai/gpt-4o-mini", ""), None, &prefs)
            .unwrap();
        assert_eq!(
            ids(&plan),
            ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
        );
        prefs.fallback_enabled = false;
        let plan = router
            .plan_direct(&chat("openai/gpt-4o-mini", ""), Some(&chain), &prefs)
            .unwrap();
        assert_eq!(ids(&plan), ["openai/gpt-4o-mini"]);
        let bad = vec!["openai/gpt-9".to_owned()];
        let err = router
            .plan_direct(
                &chat("openai/gpt-4o", ""),
                Some(&bad),
                &RoutingPreferences::default(),
            )
            .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("x-fallback-chain[0]"));
    }

    #[test]
    fn a_blocked_model_named_directly_is_403() {
        let prefs = RoutingPreferences {
            blocked_providers: ["openai".to_owned()].into(),
            ..RoutingPreferences::default()
        };
        let err = router()
            .plan_direct(&chat("openai/gpt-4o", ""), None, &prefs)
            .unwrap_err();
        assert_eq!(err.status(), http::StatusCode::FORBIDDEN);
    }

    #[test]
    fn auto_by_cost_picks_the_cheapest_capable_model() {
        let auto = Auto::new();
        // The self-hosted model is free.
        assert_eq!(auto.winner(RoutingHints::default()), "local/llama3");
        let with_image = r#"{"model":"auto","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}"#;
        let req: ChatRequest = parse_json_body(with_image.as_bytes()).unwrap();
        let plan = auto.plan(&req, RoutingHints::default()).unwrap();
        assert_eq!(plan.attempts[0].id, "openai/gpt-4.1-nano");
        assert_eq!(plan.report.strategy, RoutingDecision::CostOptimized);
        assert!(plan.report.filtered_out["capabilities"] > 0);
    }

    #[test]
    fn every_hint_changes_the_choice_as_documented() {
        let auto = Auto::new();
        let hints = |f: fn(&mut RoutingHints)| {
            let mut h = RoutingHints::default();
            f(&mut h);
            h
        };
        // Quality: the best prior among configured models.
        assert_eq!(
            auto.winner(hints(|h| h.priority = Some(Priority::Quality))),
            "anthropic/claude-opus-4-6"
        );
        // Latency: Groq's 8B model has the shortest prior latency.
        assert_eq!(
            auto.winner(hints(|h| h.priority = Some(Priority::Latency))),
            "groq/llama-3.1-8b-instant"
        );
        // A quality floor: the cheapest model above it.
        assert_eq!(
            auto.winner(hints(|h| h.min_quality_score = Some(0.8))),
            "openai/o4-mini"
        );
        // Excluded providers are never candidates.
        let plan = auto
            .plan(
                &chat("auto", ""),
                hints(|h| h.exclude_providers = vec!["local".into(), "groq".into()]),
            )
            .unwrap();
        assert!(
            plan.attempts
                .iter()
                .all(|m| !["local", "groq"].contains(&m.provider()))
        );
        assert_eq!(plan.report.filtered_out["provider_excluded"], 3);
        // Preferred providers win among those meeting the bar.
        let winner = auto.winner(hints(|h| h.prefer_providers = vec!["anthropic".into()]));
        assert_eq!(winner, "anthropic/claude-3-haiku");
        // A latency ceiling filters slow models out of the bar.
        let plan = auto
            .plan(
                &chat("auto", ""),
                hints(|h| {
                    h.priority = Some(Priority::Quality);
                    h.max_latency_ms = Some(2_000);
                }),
            )
            .unwrap();
        assert!(plan.report.candidates[0].estimated_latency_ms <= 2_000.0);
        assert_eq!(plan.attempts[0].id, plan.report.winner);
    }

    #[test]
    fn an_unreachable_bar_picks_the_closest_and_says_so() {
        let auto = Auto::new();
        let mut hints = RoutingHints {
            min_quality_score: Some(0.99),
            ..RoutingHints::default()
        };
        let plan = auto.plan(&chat("auto", ""), hints.clone()).unwrap();
        assert_eq!(plan.attempts[0].id, "anthropic/claude-opus-4-6");
        assert!(
            plan.report.reason.starts_with("No candidate meets"),
            "{}",
            plan.report.reason
        );
        hints.exclude_providers = vec![
            "openai".into(),
            "groq".into(),
            "anthropic".into(),
            "local".into(),
        ];
        let err = auto.plan(&chat("auto", ""), hints).unwrap_err();
        assert_eq!(err.code.as_deref(), Some("no_capable_model"));
    }

    #[test]
    fn automatic_fallbacks_prefer_another_provider() {
        let auto = Auto::new();
        let plan = auto
            .plan(
                &chat("auto", ""),
                RoutingHints {
                    exclude_providers: vec!["local".into()],
                    ..RoutingHints::default()
                },
            )
            .unwrap();
        let providers: Vec<&str> = plan.attempts.iter().map(|m| m.provider()).collect();
        assert_eq!(providers.len(), 3);
        assert_ne!(providers[0], providers[1]);
        assert_ne!(providers[1], providers[2]);
    }

    #[test]
    fn an_open_breaker_takes_a_model_out_of_auto() {
        let auto = Auto::new();
        for _ in 0..5 {
            let a = auto.health.admit("local/llama3");
            assert_eq!(a, Admission::Allowed);
            auto.health.record(
                "local/llama3",
                a,
                Outcome::Failure {
                    total: std::time::Duration::from_millis(1),
                },
            );
        }
        let plan = auto
            .plan(&chat("auto", ""), RoutingHints::default())
            .unwrap();
        assert_ne!(plan.attempts[0].id, "local/llama3");
        assert_eq!(plan.report.filtered_out["circuit_open"], 1);
    }

    #[test]
    fn a_prompt_too_long_for_a_model_leaves_it_out() {
        let auto = Auto::new();
        let plan = auto
            .plan(
                &chat("auto", r#","max_tokens":20000"#),
                RoutingHints::default(),
            )
            .unwrap();
        assert!(plan.report.filtered_out["max_output_tokens"] > 0);
        assert!(
            plan.attempts
                .iter()
                .all(|m| m.max_output_tokens == 0 || m.max_output_tokens >= 20000)
        );
    }

    #[test]
    fn embedding_and_chat_models_are_not_interchangeable() {
        let router = router();
        assert!(router.chat_model("openai/text-embedding-3-small").is_err());
        assert!(router.route_embedding("openai/gpt-4o").is_err());
        assert_eq!(
            router.route_embedding("text-embedding-3-small").unwrap().id,
            "openai/text-embedding-3-small"
        );
    }
}
