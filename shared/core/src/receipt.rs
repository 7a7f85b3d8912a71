//! The execution receipt every response carries: what was routed where, what it cost and took.
//!
//! It travels three ways: the `x-llm-gateway` object in a JSON body (or the last stream chunk),
//! a compact `x-llm-gateway` header, and `x-request-id`. The object keeps the compact fields
//! clients already read (`request_id`, `routing_decision`, `cost_usd`, …) and adds the full
//! receipt of the product documentation: `routing`, `execution`, `cost` and `fallback`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::wire::Usage;

/// Why the model was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingDecision {
    /// The client named the model.
    Direct,
    /// `auto`, priority `cost`: the cheapest candidate meeting the bar.
    CostOptimized,
    /// `auto`, priority `latency`: the fastest candidate meeting the bar.
    LatencyOptimized,
    /// `auto`, priority `quality`: the best predicted candidate meeting the bar.
    QualityOptimized,
}

impl RoutingDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingDecision::Direct => "direct",
            RoutingDecision::CostOptimized => "cost_optimized",
            RoutingDecision::LatencyOptimized => "latency_optimized",
            RoutingDecision::QualityOptimized => "quality_optimized",
        }
    }
}

/// Who counted the tokens the cost is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    Provider,
    /// The provider reported none; the gateway counted with its tokenizer.
    Gateway,
}

#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub request_id: String,
    pub routing_decision: RoutingDecision,
    pub provider: String,
    /// `provider/model`, as routed.
    pub model: String,
    /// What the request cost, fee included (`cost.total_usd`).
    pub cost_usd: f64,
    /// From the request's arrival to its last byte.
    pub latency_ms: u64,
    /// Time the gateway spent choosing the model.
    pub routing_overhead_ms: f64,
    pub fallback_used: bool,
    pub tokens: ReceiptTokens,
    /// When the request arrived, RFC 3339 UTC.
    pub timestamp: String,
    pub routing: RoutingReport,
    pub execution: Execution,
    pub cost: CostReport,
    pub fallback: FallbackReport,
    /// Why the request failed, when no attempt answered, or why its stream ended before the
    /// model finished (only in stored receipts: the client gets the error itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReceiptError>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReceiptError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// How the model was chosen.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoutingReport {
    pub strategy: RoutingDecision,
    /// Candidates that passed the hard filters and were scored.
    pub candidates_evaluated: usize,
    /// The scored candidates, best first.
    pub candidates: Vec<CandidateReport>,
    /// Models left out before scoring, counted by reason (`capabilities`, `context_window`,
    /// `provider_excluded`, `circuit_open`, …).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub filtered_out: std::collections::BTreeMap<&'static str, usize>,
    /// `provider/model` the router chose first.
    pub winner: String,
    pub reason: String,
    /// For `auto`: what produced `predicted_quality` (`prior`, `learned`, or the prior and why
    /// the learned predictor was not used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_predictor: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CandidateReport {
    pub model: String,
    pub provider: String,
    pub predicted_quality: f64,
    pub estimated_cost_usd: f64,
    pub estimated_latency_ms: f64,
    /// Whether it met the quality and latency bar.
    pub meets_bar: bool,
}

/// Who served the request and what it took.
#[derive(Debug, Clone, Serialize)]
pub struct Execution {
    pub provider: String,
    /// The provider's own model name.
    pub model: String,
    pub latency_ms: u64,
    pub routing_overhead_ms: f64,
    pub tokens: ReceiptTokens,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct CostReport {
    pub provider_cost_usd: f64,
    /// `[spend] platform_fee_percent` of the provider cost (0 by default: the provider keys
    /// are the user's own).
    pub platform_fee_usd: f64,
    pub total_usd: f64,
    /// What the same tokens would have cost on the organisation's default model, minus what
    /// they cost; `null` without a default model.
    pub savings_vs_default_usd: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FallbackReport {
    pub used: bool,
    /// The attempts that failed or were skipped before the one that answered.
    pub attempts: Vec<AttemptReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttemptReport {
    pub provider: String,
    pub model: String,
    /// The error code (`upstream_error`, `upstream_timeout`, `circuit_open`, …).
    pub error: String,
    pub message: String,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReceiptTokens {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
    pub counted_by: UsageSource,
}

impl ReceiptTokens {
    pub fn new(usage: &Usage, counted_by: UsageSource) -> Self {
        ReceiptTokens {
            prompt: usage.prompt_tokens,
            completion: usage.completion_tokens,
            total: usage.total_tokens,
            counted_by,
        }
    }
}

/// Rounds to whole micro-dollars' hundredths: enough for a single cheap request, stable in JSON.
pub fn round_usd(value: f64) -> f64 {
    (value * 1e8).round() / 1e8
}

/// Rounds to microseconds.
pub fn round_ms(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

/// `2024-01-15T10:30:00Z`-style UTC time, to the millisecond.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Receipt {
    /// The compact header form: `key=value` pairs separated by `; `.
    pub fn header_value(&self) -> String {
        format!(
            "request_id={}; routing={}; provider={}; model={}; cost_usd={}; latency_ms={}; fallback={}",
            self.request_id,
            self.routing_decision.as_str(),
            self.provider,
            self.model,
            self.cost_usd,
            self.latency_ms,
            self.fallback_used
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_705_314_600_123);
        assert_eq!(rfc3339(t), "2024-01-15T10:30:00.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn the_header_is_compact_and_ascii() {
        let tokens = ReceiptTokens::new(&Usage::new(1, 2), UsageSource::Provider);
        let receipt = Receipt {
            request_id: "req_1".into(),
            routing_decision: RoutingDecision::Direct,
            provider: "openai".into(),
            model: "openai/gpt-4o".into(),
            cost_usd: round_usd(0.000_123_456_789),
            latency_ms: 12,
            routing_overhead_ms: round_ms(0.012_345),
            fallback_used: false,
            tokens,
            timestamp: rfc3339(UNIX_EPOCH),
            routing: RoutingReport {
                strategy: RoutingDecision::Direct,
                candidates_evaluated: 0,
                candidates: vec![],
                filtered_out: Default::default(),
                winner: "openai/gpt-4o".into(),
                reason: "named by the client".into(),
                quality_predictor: None,
            },
            execution: Execution {
                provider: "openai".into(),
                model: "gpt-4o".into(),
                latency_ms: 12,
                routing_overhead_ms: 0.012,
                tokens,
            },
            cost: CostReport {
                provider_cost_usd: 0.00012346,
                platform_fee_usd: 0.0,
                total_usd: 0.00012346,
                savings_vs_default_usd: None,
            },
            fallback: FallbackReport::default(),
            error: None,
        };
        assert_eq!(
            receipt.header_value(),
            "request_id=req_1; routing=direct; provider=openai; model=openai/gpt-4o; cost_usd=0.00012346; latency_ms=12; fallback=false"
        );
        assert_eq!(receipt.routing_overhead_ms, 0.012);
    }
}
