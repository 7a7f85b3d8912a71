//! `model: "auto"`: hard filters, a predicted quality, cost and latency for every remaining
//! candidate, and the choice by priority among those that meet the bar.
//!
//! Hard filters drop a model that cannot serve the request at all or may not: a missing
//! capability, a prompt that does not fit, an output limit below the one asked for, the
//! organisation's allow/deny lists and regions, the client's excluded providers, an open
//! circuit breaker. Every survivor is scored; the bar is the minimum quality and maximum
//! latency (hints first, then the organisation's preferences). Among those meeting it the
//! priority decides (cost, latency or quality), preferred providers first. When none meets
//! it, the closest one wins and the receipt says so.

use std::collections::{BTreeMap, HashSet};

use crate::catalog::{ModelEntry, ModelKind};
use crate::health::{BreakerState, HealthStore, ModelHealth};
use crate::receipt::{CandidateReport, RoutingDecision, RoutingReport, round_ms, round_usd};

use super::analysis::RequestAnalysis;
use super::hints::{Priority, RoutingHints};
use super::preferences::RoutingPreferences;
use super::quality::QualityPredictor;

/// Latency priors for a model the catalog has none for (a declared self-hosted model).
const UNKNOWN_TTFT_MS: f64 = 1_000.0;
const UNKNOWN_TOKENS_PER_SECOND: f64 = 50.0;
/// Ranking divides by availability; a model that failed everything still ranks, last.
const MIN_AVAILABILITY: f64 = 0.05;

/// The scored candidates of one `auto` request.
pub struct AutoChoice<'a> {
    /// Candidates in ranking order, best first.
    pub ranked: Vec<&'a ModelEntry>,
    pub report: RoutingReport,
}

pub struct AutoInputs<'a> {
    pub analysis: &'a RequestAnalysis,
    pub hints: &'a RoutingHints,
    pub preferences: &'a RoutingPreferences,
    pub health: &'a dyn HealthStore,
    pub predictor: &'a dyn QualityPredictor,
    /// Whether the organisation's remaining budget can pay for a model's worst case; `None`
    /// when no spend limit applies.
    pub affordable: Option<&'a dyn Fn(&ModelEntry) -> bool>,
}

struct Scored<'a> {
    model: &'a ModelEntry,
    quality: f64,
    cost_usd: f64,
    latency_ms: f64,
    availability: f64,
    meets_bar: bool,
    preferred: bool,
}

/// Chooses among `models`; `None` when every model was filtered out (the report says why).
pub fn choose<'a>(
    models: &'a [ModelEntry],
    inputs: &AutoInputs<'_>,
) -> Result<AutoChoice<'a>, BTreeMap<&'static str, usize>> {
    let analysis = inputs.analysis;
    let excluded: HashSet<&str> = inputs
        .hints
        .exclude_providers
        .iter()
        .map(String::as_str)
        .collect();
    let mut filtered_out: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut survivors: Vec<(&ModelEntry, ModelHealth)> = Vec::new();
    for model in models.iter().filter(|m| m.kind == ModelKind::Chat) {
        let health = inputs.health.model_health(&model.id);
        let reason = filter_reason(model, &health, analysis, inputs.preferences, &excluded)
            .or_else(|| {
                inputs
                    .affordable
                    .is_some_and(|affordable| !affordable(model))
                    .then_some("budget")
            });
        match reason {
            Some(reason) => *filtered_out.entry(reason).or_default() += 1,
            None => survivors.push((model, health)),
        }
    }
    if survivors.is_empty() {
        return Err(filtered_out);
    }

    let candidates: Vec<&ModelEntry> = survivors.iter().map(|(m, _)| *m).collect();
    let qualities = inputs.predictor.predict(analysis, &candidates);
    let priority = inputs
        .hints
        .priority
        .unwrap_or(inputs.preferences.default_priority);
    let min_quality = inputs
        .hints
        .min_quality_score
        .unwrap_or(inputs.preferences.quality_threshold);
    let max_latency = inputs
        .hints
        .max_latency_ms
        .or(inputs.preferences.max_latency_ms)
        .map(|ms| ms as f64);
    let mut scored: Vec<Scored<'_>> = survivors
        .iter()
        .zip(qualities.iter().chain(std::iter::repeat(&0.0)))
        .map(|((model, health), &quality)| {
            let latency_ms = estimated_latency_ms(model, health, analysis);
            Scored {
                model,
                quality,
                cost_usd: estimated_cost_usd(model, analysis),
                latency_ms,
                availability: health.availability.max(MIN_AVAILABILITY),
                meets_bar: quality >= min_quality
                    && max_latency.is_none_or(|max| latency_ms <= max),
                preferred: inputs
                    .hints
                    .prefer_providers
                    .iter()
                    .any(|p| p == model.provider()),
            }
        })
        .collect();

    let any_meets_bar = scored.iter().any(|s| s.meets_bar);
    scored.sort_by(|a, b| {
        b.meets_bar
            .cmp(&a.meets_bar)
            .then(b.preferred.cmp(&a.preferred))
            .then_with(|| {
                if any_meets_bar {
                    by_priority(priority, a, b)
                } else {
                    closest_to_bar(max_latency, a, b)
                }
            })
            .then_with(|| a.model.id.cmp(&b.model.id))
    });

    let winner = &scored[0];
    let reason = reason(priority, winner, min_quality, max_latency, any_meets_bar);
    let report = RoutingReport {
        strategy: match priority {
            Priority::Cost => RoutingDecision::CostOptimized,
            Priority::Latency => RoutingDecision::LatencyOptimized,
            Priority::Quality => RoutingDecision::QualityOptimized,
        },
        candidates_evaluated: scored.len(),
        candidates: scored
            .iter()
            .map(|s| CandidateReport {
                model: s.model.id.clone(),
                provider: s.model.provider().to_owned(),
                predicted_quality: (s.quality * 1e4).round() / 1e4,
                estimated_cost_usd: round_usd(s.cost_usd),
                estimated_latency_ms: round_ms(s.latency_ms),
                meets_bar: s.meets_bar,
            })
            .collect(),
        filtered_out,
        winner: winner.model.id.clone(),
        reason,
        quality_predictor: Some(inputs.predictor.describe(&candidates)),
    };
    Ok(AutoChoice {
        ranked: scored.iter().map(|s| s.model).collect(),
        report,
    })
}

fn filter_reason(
    model: &ModelEntry,
    health: &ModelHealth,
    analysis: &RequestAnalysis,
    preferences: &RoutingPreferences,
    excluded: &HashSet<&str>,
) -> Option<&'static str> {
    if !analysis.needs.iter().all(|c| model.has(*c)) {
        return Some("capabilities");
    }
    // A context window or output limit of 0 means the catalog does not know it.
    if model.context_window > 0 {
        let needed = analysis.prompt_tokens + analysis.requested_max_output.unwrap_or(1);
        if needed > model.context_window {
            return Some("context_window");
        }
    }
    if model.max_output_tokens > 0
        && analysis
            .requested_max_output
            .is_some_and(|n| n > model.max_output_tokens)
    {
        return Some("max_output_tokens");
    }
    if let Some(reason) = preferences.forbids(model.provider(), &model.id) {
        return Some(reason);
    }
    if !preferences.allows_regions(&model.regions) {
        return Some("region");
    }
    if excluded.contains(model.provider()) {
        return Some("provider_excluded");
    }
    if health.breaker == BreakerState::Open {
        return Some("circuit_open");
    }
    None
}

fn estimated_cost_usd(model: &ModelEntry, analysis: &RequestAnalysis) -> f64 {
    (analysis.prompt_tokens as f64 * model.input_per_mtok
        + analysis.expected_output_tokens as f64 * model.output_per_mtok)
        / 1_000_000.0
}

/// Time to first token plus the expected answer at the model's throughput: live figures where
/// traffic has measured them, catalog priors otherwise.
fn estimated_latency_ms(
    model: &ModelEntry,
    health: &ModelHealth,
    analysis: &RequestAnalysis,
) -> f64 {
    let ttft = health.ttft_ms.or(model.ttft_ms).unwrap_or(UNKNOWN_TTFT_MS);
    let tps = health
        .tokens_per_second
        .or(model.tokens_per_second)
        .unwrap_or(UNKNOWN_TOKENS_PER_SECOND)
        .max(f64::MIN_POSITIVE);
    ttft + analysis.expected_output_tokens as f64 / tps * 1_000.0
}

/// Lower is better. Unreliable models cost more (expected retries), take longer and are worth
/// less, in proportion to their live availability.
fn by_priority(priority: Priority, a: &Scored<'_>, b: &Scored<'_>) -> std::cmp::Ordering {
    match priority {
        Priority::Cost => (a.cost_usd / a.availability)
            .total_cmp(&(b.cost_usd / b.availability))
            .then(b.quality.total_cmp(&a.quality)),
        Priority::Latency => (a.latency_ms / a.availability)
            .total_cmp(&(b.latency_ms / b.availability))
            .then(a.cost_usd.total_cmp(&b.cost_usd)),
        Priority::Quality => (b.quality * b.availability)
            .total_cmp(&(a.quality * a.availability))
            .then(a.cost_usd.total_cmp(&b.cost_usd)),
    }
}

/// With no candidate meeting the bar: the best predicted quality among those within the
/// latency limit, then the fastest of the rest.
fn closest_to_bar(max_latency: Option<f64>, a: &Scored<'_>, b: &Scored<'_>) -> std::cmp::Ordering {
    let within = |s: &Scored<'_>| max_latency.is_none_or(|max| s.latency_ms <= max);
    within(b).cmp(&within(a)).then_with(|| {
        if within(a) {
            b.quality.total_cmp(&a.quality)
        } else {
            a.latency_ms.total_cmp(&b.latency_ms)
        }
    })
}

fn reason(
    priority: Priority,
    winner: &Scored<'_>,
    min_quality: f64,
    max_latency: Option<f64>,
    any_meets_bar: bool,
) -> String {
    let bar = match max_latency {
        Some(max) => format!("quality >= {min_quality} and latency <= {max} ms"),
        None => format!("quality >= {min_quality}"),
    };
    if !any_meets_bar {
        return format!(
            "No candidate meets {bar}; chose the closest (predicted quality {:.2}, estimated \
             latency {:.0} ms)",
            winner.quality, winner.latency_ms
        );
    }
    let what = match priority {
        Priority::Cost => "Lowest estimated cost",
        Priority::Latency => "Lowest estimated latency",
        Priority::Quality => "Highest predicted quality",
    };
    let preferred = if winner.preferred {
        " among preferred providers"
    } else {
        ""
    };
    format!("{what}{preferred} meeting {bar}")
}
