//! The analysis behind a recommendations report, without I/O: one organisation's receipts of
//! the window and the models this deployment can route to, in; a report, out.
//!
//! Two kinds of recommendation (the product's "Cost Savings" and "Reliability Improvements"):
//! - `cost_savings`: a model that served requests successfully, and a routable chat model
//!   whose quality prior is at least as high, whose context window holds the largest prompt
//!   seen, and which would have cost at least [`MIN_SAVINGS_FRACTION`] less for the same
//!   tokens. Models without a quality prior are never the subject of such a claim.
//! - `reliability`: a model that failed at least [`MAX_ERROR_RATE`] of at least
//!   [`MIN_REQUESTS_FOR_ERROR_RATE`] calls (failed answers and failed fallback attempts), with
//!   a fallback from another provider of no lower quality when one is routable.

use std::collections::BTreeMap;

use gateway_core::catalog::{ModelEntry, ModelKind};
use gateway_store::Timestamp;
use gateway_store::model::receipt::ReceiptRecord;
use serde::Serialize;

/// Savings below this share of the current cost are not worth a change.
pub const MIN_SAVINGS_FRACTION: f64 = 0.10;
/// Error rates at or above this call for a fallback.
pub const MAX_ERROR_RATE: f64 = 0.10;
/// Fewer calls than this say nothing about a model's error rate.
pub const MIN_REQUESTS_FOR_ERROR_RATE: u64 = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub org_id: String,
    pub generated_at: String,
    pub window: Window,
    pub summary: Summary,
    pub recommendations: Vec<Recommendation>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub from: String,
    pub until: String,
    pub days: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub cost_usd: f64,
    pub models: Vec<ModelUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelUsage {
    pub model: String,
    /// Calls to the model: answers it gave plus fallback attempts that failed on it.
    pub calls: u64,
    pub failures: u64,
    pub error_rate: f64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recommendation {
    CostSavings {
        title: String,
        from_model: String,
        to_model: String,
        requests: u64,
        current_cost_usd: f64,
        estimated_cost_usd: f64,
        estimated_savings_usd: f64,
        estimated_savings_percent: f64,
        from_quality: f64,
        to_quality: f64,
    },
    Reliability {
        title: String,
        model: String,
        calls: u64,
        failures: u64,
        error_rate: f64,
        suggested_fallback: Option<String>,
    },
}

/// What one model did in the window.
#[derive(Debug, Default)]
struct Tally {
    calls: u64,
    failures: u64,
    successes: u64,
    cost_usd: f64,
    prompt_tokens: u64,
    completion_tokens: u64,
    largest_prompt: u64,
}

fn is_failure(status: u16) -> bool {
    status == 429 || status >= 500
}

/// `provider/model` of a fallback attempt, whichever way the model was written.
fn attempt_model_id(provider: &str, model: &str) -> String {
    if model.starts_with(&format!("{provider}/")) {
        model.to_owned()
    } else {
        format!("{provider}/{model}")
    }
}

fn cost(entry: &ModelEntry, prompt_tokens: u64, completion_tokens: u64) -> f64 {
    (prompt_tokens as f64 * entry.input_per_mtok + completion_tokens as f64 * entry.output_per_mtok)
        / 1_000_000.0
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

/// The report for `org_id` from its receipts in `[from, until)` and the routable `models`.
pub fn analyse(
    org_id: &str,
    receipts: &[ReceiptRecord],
    models: &[ModelEntry],
    from: Timestamp,
    until: Timestamp,
) -> Report {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut requests = 0;
    let mut total_cost = 0.0;
    for receipt in receipts {
        requests += 1;
        total_cost += receipt.cost_usd;
        for attempt in &receipt.fallback_attempts {
            let tally = tallies
                .entry(attempt_model_id(&attempt.provider, &attempt.model))
                .or_default();
            tally.calls += 1;
            tally.failures += 1;
        }
        if receipt.model.is_empty() {
            continue;
        }
        let tally = tallies.entry(receipt.model.clone()).or_default();
        tally.calls += 1;
        tally.cost_usd += receipt.cost_usd;
        if is_failure(receipt.status) {
            tally.failures += 1;
        } else if receipt.status < 400 {
            tally.successes += 1;
            tally.prompt_tokens += receipt.tokens.prompt;
            tally.completion_tokens += receipt.tokens.completion;
            tally.largest_prompt = tally.largest_prompt.max(receipt.tokens.prompt);
        }
    }

    let by_id: BTreeMap<&str, &ModelEntry> = models.iter().map(|m| (m.id.as_str(), m)).collect();
    let chat: Vec<&ModelEntry> = models
        .iter()
        .filter(|m| m.kind == ModelKind::Chat)
        .collect();
    let mut recommendations = Vec::new();
    for (model, tally) in &tallies {
        if let Some(current) = by_id.get(model.as_str()).copied()
            && let Some(saving) = cheaper_model(current, tally, &chat)
        {
            recommendations.push(saving);
        }
        if tally.calls >= MIN_REQUESTS_FOR_ERROR_RATE {
            let rate = tally.failures as f64 / tally.calls as f64;
            if rate >= MAX_ERROR_RATE {
                let fallback = by_id
                    .get(model.as_str())
                    .and_then(|current| fallback_for(current, &chat, &tallies));
                recommendations.push(Recommendation::Reliability {
                    title: match &fallback {
                        Some(f) => format!(
                            "Add {f} as a fallback for {model}: {:.0}% of its calls failed.",
                            rate * 100.0
                        ),
                        None => format!(
                            "{model} failed {:.0}% of its calls: add a fallback chain or \
                             another provider.",
                            rate * 100.0
                        ),
                    },
                    model: model.clone(),
                    calls: tally.calls,
                    failures: tally.failures,
                    error_rate: round(rate, 4),
                    suggested_fallback: fallback,
                });
            }
        }
    }

    Report {
        org_id: org_id.to_owned(),
        generated_at: until.to_rfc3339(),
        window: Window {
            from: from.to_rfc3339(),
            until: until.to_rfc3339(),
            days: (until.millis() - from.millis()) / 86_400_000,
        },
        summary: Summary {
            requests,
            cost_usd: round(total_cost, 6),
            models: tallies
                .iter()
                .map(|(model, t)| ModelUsage {
                    model: model.clone(),
                    calls: t.calls,
                    failures: t.failures,
                    error_rate: if t.calls == 0 {
                        0.0
                    } else {
                        round(t.failures as f64 / t.calls as f64, 4)
                    },
                    cost_usd: round(t.cost_usd, 6),
                })
                .collect(),
        },
        recommendations,
    }
}

/// The cheapest routable chat model of sufficient quality that would have served the same
/// successful requests, when it saves enough.
fn cheaper_model(
    current: &ModelEntry,
    tally: &Tally,
    chat: &[&ModelEntry],
) -> Option<Recommendation> {
    let quality = current.quality?;
    if tally.successes == 0 || current.kind != ModelKind::Chat {
        return None;
    }
    let current_cost = cost(current, tally.prompt_tokens, tally.completion_tokens);
    let (best, best_cost, best_quality) = chat
        .iter()
        .filter(|m| m.id != current.id && m.context_window >= tally.largest_prompt)
        .filter_map(|m| Some((*m, m.quality?)))
        .filter(|(_, q)| *q >= quality)
        .map(|(m, q)| (m, cost(m, tally.prompt_tokens, tally.completion_tokens), q))
        .min_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.2.total_cmp(&a.2)))?;
    let savings = current_cost - best_cost;
    if current_cost <= 0.0 || savings < current_cost * MIN_SAVINGS_FRACTION {
        return None;
    }
    let percent = savings / current_cost * 100.0;
    Some(Recommendation::CostSavings {
        title: format!(
            "Switch from {} to {}: save {percent:.0}% on {} requests with a quality prior at \
             least as high.",
            current.id, best.id, tally.successes
        ),
        from_model: current.id.clone(),
        to_model: best.id.clone(),
        requests: tally.successes,
        current_cost_usd: round(current_cost, 6),
        estimated_cost_usd: round(best_cost, 6),
        estimated_savings_usd: round(savings, 6),
        estimated_savings_percent: round(percent, 1),
        from_quality: quality,
        to_quality: best_quality,
    })
}

/// The highest-quality routable chat model of another provider, of no lower quality, that did
/// not itself fail often in the window.
fn fallback_for(
    current: &ModelEntry,
    chat: &[&ModelEntry],
    tallies: &BTreeMap<String, Tally>,
) -> Option<String> {
    let floor = current.quality.unwrap_or(0.0);
    chat.iter()
        .filter(|m| m.provider() != current.provider())
        .filter(|m| m.quality.unwrap_or(0.0) >= floor)
        .filter(|m| {
            tallies.get(&m.id).is_none_or(|t| {
                t.calls < MIN_REQUESTS_FOR_ERROR_RATE
                    || (t.failures as f64 / t.calls as f64) < MAX_ERROR_RATE
            })
        })
        .max_by(|a, b| {
            a.quality
                .unwrap_or(0.0)
                .total_cmp(&b.quality.unwrap_or(0.0))
                .then_with(|| b.id.cmp(&a.id))
        })
        .map(|m| m.id.clone())
}

#[cfg(test)]
mod tests {
    use gateway_store::model::receipt::{FallbackAttempt, ReceiptDetails, TokenCounts};

    use super::*;

    fn model(id: &str, input: f64, output: f64, quality: Option<f64>) -> ModelEntry {
        let (provider, name) = id.split_once('/').unwrap();
        ModelEntry {
            input_per_mtok: input,
            output_per_mtok: output,
            quality,
            context_window: 128_000,
            ..ModelEntry::declared(provider, name, ModelKind::Chat)
        }
    }

    fn catalog() -> Vec<ModelEntry> {
        vec![
            model("openai/gpt-4o", 2.5, 10.0, Some(0.85)),
            model("openai/gpt-4o-mini", 0.15, 0.6, Some(0.70)),
            model("anthropic/claude-sonnet", 3.0, 15.0, Some(0.88)),
            model("groq/llama-70b", 0.59, 0.79, Some(0.86)),
            model("local/llama", 0.0, 0.0, None),
        ]
    }

    fn receipt(model: &str, status: u16, prompt: u64, completion: u64) -> ReceiptRecord {
        ReceiptRecord {
            request_id: format!("req_{model}_{status}_{prompt}"),
            org_id: "org_1".into(),
            key_id: None,
            at: Timestamp(1_000),
            routing_decision: "direct".into(),
            provider: model.split('/').next().unwrap().into(),
            model: model.into(),
            status,
            latency_ms: 100,
            tokens: TokenCounts {
                prompt,
                completion,
                total: prompt + completion,
            },
            cost_usd: 0.01,
            fallback_attempts: Vec::new(),
            details: ReceiptDetails::none(),
            expires_at: Timestamp(i64::MAX),
        }
    }

    fn run(receipts: &[ReceiptRecord]) -> Report {
        analyse(
            "org_1",
            receipts,
            &catalog(),
            Timestamp(0),
            Timestamp(7 * 86_400_000),
        )
    }

    #[test]
    fn the_cheapest_model_of_no_lower_quality_is_recommended_with_its_savings() {
        let receipts = vec![receipt("openai/gpt-4o", 200, 1_000, 500); 4];
        let report = run(&receipts);
        let [
            Recommendation::CostSavings {
                to_model,
                current_cost_usd,
                estimated_cost_usd,
                estimated_savings_percent,
                requests,
                ..
            },
        ] = report.recommendations.as_slice()
        else {
            panic!("{:?}", report.recommendations);
        };
        // gpt-4o-mini is cheaper but below gpt-4o's quality; llama-70b is the cheapest above.
        assert_eq!(to_model, "groq/llama-70b");
        assert_eq!(*requests, 4);
        assert!((current_cost_usd - 0.03).abs() < 1e-9, "{current_cost_usd}");
        assert!(
            (estimated_cost_usd - 0.00394).abs() < 1e-9,
            "{estimated_cost_usd}"
        );
        assert!(*estimated_savings_percent > 80.0);
        assert_eq!(report.window.days, 7);
        assert_eq!(report.summary.requests, 4);
    }

    #[test]
    fn no_saving_is_claimed_for_the_best_value_model_or_one_without_a_quality_prior() {
        let receipts = vec![
            receipt("groq/llama-70b", 200, 1_000, 500),
            receipt("local/llama", 200, 1_000, 500),
            receipt("openai/gpt-4o-mini", 200, 1_000, 500),
        ];
        let report = run(&receipts);
        assert!(
            !report
                .recommendations
                .iter()
                .any(|r| matches!(r, Recommendation::CostSavings { .. })),
            "{:?}",
            report.recommendations
        );
    }

    #[test]
    fn a_prompt_larger_than_the_cheaper_models_window_rules_it_out() {
        let mut models = catalog();
        models[3].context_window = 8_000;
        let receipts = vec![receipt("openai/gpt-4o", 200, 20_000, 10)];
        let report = analyse("org_1", &receipts, &models, Timestamp(0), Timestamp(1));
        // The only other model of sufficient quality, claude, costs more than gpt-4o.
        assert!(
            report.recommendations.is_empty(),
            "{:?}",
            report.recommendations
        );
    }

    #[test]
    fn a_model_that_fails_often_gets_a_fallback_from_another_provider() {
        let mut receipts = vec![receipt("openai/gpt-4o", 200, 10, 10); 6];
        receipts.extend(vec![receipt("openai/gpt-4o", 503, 0, 0); 2]);
        // Two requests failed over from gpt-4o to claude.
        for i in 0..2 {
            let mut r = receipt("anthropic/claude-sonnet", 200, 10, 10);
            r.request_id = format!("fallback_{i}");
            r.fallback_attempts.push(FallbackAttempt {
                provider: "openai".into(),
                model: "gpt-4o".into(),
                error: "upstream_5xx".into(),
                latency_ms: 30,
            });
            receipts.push(r);
        }
        let report = run(&receipts);
        let reliability: Vec<_> = report
            .recommendations
            .iter()
            .filter_map(|r| match r {
                Recommendation::Reliability {
                    model,
                    calls,
                    failures,
                    suggested_fallback,
                    ..
                } => Some((
                    model.as_str(),
                    *calls,
                    *failures,
                    suggested_fallback.as_deref(),
                )),
                Recommendation::CostSavings { .. } => None,
            })
            .collect();
        assert_eq!(
            reliability,
            [("openai/gpt-4o", 10, 4, Some("anthropic/claude-sonnet"))]
        );
    }

    #[test]
    fn a_few_failures_say_nothing_about_a_model() {
        let receipts = vec![receipt("openai/gpt-4o", 500, 0, 0); 9];
        assert!(run(&receipts).recommendations.is_empty());
    }

    #[test]
    fn no_receipts_give_an_empty_report() {
        let report = run(&[]);
        assert_eq!(report.summary.requests, 0);
        assert!(report.summary.models.is_empty());
        assert!(report.recommendations.is_empty());
    }
}
