//! The execution receipt every response carries: what was routed where, what it cost and took.
//!
//! It travels three ways: the `x-llm-gateway` object in a JSON body (or the last stream chunk),
//! a compact `x-llm-gateway` header, and `x-request-id`.

use serde::Serialize;

use crate::wire::Usage;

/// Why the model was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingDecision {
    /// The client named the model.
    Direct,
    /// `auto`: the cheapest configured model that can serve the request.
    CostOptimized,
}

impl RoutingDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingDecision::Direct => "direct",
            RoutingDecision::CostOptimized => "cost_optimized",
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
    pub cost_usd: f64,
    /// From the request's arrival to its last byte.
    pub latency_ms: u64,
    /// Time the gateway spent choosing the model.
    pub routing_overhead_ms: f64,
    pub fallback_used: bool,
    pub tokens: ReceiptTokens,
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
    fn the_header_is_compact_and_ascii() {
        let receipt = Receipt {
            request_id: "req_1".into(),
            routing_decision: RoutingDecision::Direct,
            provider: "openai".into(),
            model: "openai/gpt-4o".into(),
            cost_usd: round_usd(0.000_123_456_789),
            latency_ms: 12,
            routing_overhead_ms: round_ms(0.012_345),
            fallback_used: false,
            tokens: ReceiptTokens::new(&Usage::new(1, 2), UsageSource::Provider),
        };
        assert_eq!(
            receipt.header_value(),
            "request_id=req_1; routing=direct; provider=openai; model=openai/gpt-4o; cost_usd=0.00012346; latency_ms=12; fallback=false"
        );
        assert_eq!(receipt.routing_overhead_ms, 0.012);
    }
}
