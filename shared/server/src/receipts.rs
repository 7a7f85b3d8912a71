//! Assembling the receipt for a finished request and attaching it to responses.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use gateway_core::catalog::ModelEntry;
use gateway_core::receipt::{
    AttemptReport, CostReport, Execution, FallbackReport, Receipt, ReceiptError, ReceiptTokens,
    RoutingDecision, RoutingReport, UsageSource, rfc3339, round_ms, round_usd,
};
use gateway_core::wire::Usage;

use gateway_core::ApiError;

use crate::errors::ErrorResponse;
use crate::request_id::RequestContext;

pub const HEADER: &str = "x-llm-gateway";
/// The body field (and stream chunk field) that carries the receipt.
pub const FIELD: &str = "x-llm-gateway";

/// What is known about a request once its model is chosen, and as its attempts go by.
#[derive(Debug, Clone)]
pub struct Routed {
    pub context: RequestContext,
    /// The model of the current attempt.
    pub model: ModelEntry,
    pub decision: RoutingDecision,
    pub routing_overhead: Duration,
    pub routing: RoutingReport,
    /// Attempts that failed or were skipped so far.
    pub failed_attempts: Vec<AttemptReport>,
    /// The organisation's default model, the baseline of savings.
    pub baseline: Option<ModelEntry>,
    /// `[spend] platform_fee_percent`, added to the provider cost.
    pub platform_fee_percent: f64,
}

impl Routed {
    /// A request for the model it named, with no fallbacks (embeddings).
    pub fn direct(context: RequestContext, model: ModelEntry, routing_overhead: Duration) -> Self {
        Routed {
            context,
            decision: RoutingDecision::Direct,
            routing_overhead,
            routing: RoutingReport {
                strategy: RoutingDecision::Direct,
                candidates_evaluated: 0,
                candidates: Vec::new(),
                filtered_out: Default::default(),
                winner: model.id.clone(),
                reason: "Named by the client".to_owned(),
                quality_predictor: None,
            },
            model,
            failed_attempts: Vec::new(),
            baseline: None,
            platform_fee_percent: 0.0,
        }
    }

    /// The same, with a platform fee on its cost.
    pub fn with_platform_fee(mut self, percent: f64) -> Self {
        self.platform_fee_percent = percent;
        self
    }

    pub fn receipt(&self, usage: &Usage, counted_by: UsageSource) -> Receipt {
        let provider_cost = self.model.cost_usd(usage);
        let fee_rate = self.platform_fee_percent / 100.0;
        let fee = round_usd(provider_cost * fee_rate);
        let cost = round_usd(provider_cost);
        let total = round_usd(cost + fee);
        let elapsed = self.context.received.elapsed();
        let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let routing_overhead_ms = round_ms(self.routing_overhead.as_secs_f64() * 1e3);
        let tokens = ReceiptTokens::new(usage, counted_by);
        let received_at = std::time::SystemTime::now()
            .checked_sub(elapsed)
            .unwrap_or_else(std::time::SystemTime::now);
        let fallback_used = !self.failed_attempts.is_empty();
        Receipt {
            request_id: self.context.id.clone(),
            routing_decision: self.decision,
            provider: self.model.provider().to_owned(),
            model: self.model.id.clone(),
            cost_usd: total,
            latency_ms,
            routing_overhead_ms,
            fallback_used,
            tokens,
            timestamp: rfc3339(received_at),
            routing: self.routing.clone(),
            execution: Execution {
                provider: self.model.provider().to_owned(),
                model: self.model.upstream_name().to_owned(),
                latency_ms,
                routing_overhead_ms,
                tokens,
            },
            cost: CostReport {
                provider_cost_usd: cost,
                platform_fee_usd: fee,
                total_usd: total,
                // The fee applies to either model alike, so it scales the savings too.
                savings_vs_default_usd: self.baseline.as_ref().map(|baseline| {
                    round_usd((baseline.cost_usd(usage) - provider_cost) * (1.0 + fee_rate))
                }),
            },
            fallback: FallbackReport {
                used: fallback_used,
                attempts: self.failed_attempts.clone(),
            },
            error: None,
        }
    }

    /// The receipt of a request no attempt answered: every attempt listed, nothing billed.
    pub fn failure_receipt(&self, error: &ApiError) -> Receipt {
        let mut receipt = self.receipt(&Usage::default(), UsageSource::Gateway);
        receipt.cost.savings_vs_default_usd = None;
        // The last failed attempt is the request's failure; only those before it fell back.
        let fallback_used = self.failed_attempts.len() > 1;
        receipt.fallback_used = fallback_used;
        receipt.fallback.used = fallback_used;
        receipt.error = Some(receipt_error(error));
        receipt
    }

    /// The receipt of a stream that ended before the model finished: the tokens generated so
    /// far are billed, as the provider bills them, and `error` says why it ended.
    pub fn unfinished_receipt(
        &self,
        usage: &Usage,
        counted_by: UsageSource,
        error: ReceiptError,
    ) -> Receipt {
        let mut receipt = self.receipt(usage, counted_by);
        receipt.error = Some(error);
        receipt
    }

    /// An error after routing, carrying what is known of the request.
    pub fn error(&self, error: ApiError) -> ErrorResponse {
        ErrorResponse {
            error,
            receipt_header: Some(self.stream_header()),
        }
    }

    /// The header of a response whose cost and latency are not known yet (a stream's start,
    /// or a failure).
    pub fn stream_header(&self) -> String {
        format!(
            "request_id={}; routing={}; provider={}; model={}; fallback={}",
            self.context.id,
            self.decision.as_str(),
            self.model.provider(),
            self.model.id,
            !self.failed_attempts.is_empty()
        )
    }
}

/// How an error is told in a stored receipt.
pub fn receipt_error(error: &ApiError) -> ReceiptError {
    ReceiptError {
        status: error.status().as_u16(),
        code: error
            .code
            .as_deref()
            .unwrap_or(error.kind.label())
            .to_owned(),
        message: error.message.clone(),
    }
}

/// A response body with the receipt as one more top-level field, serialised in one pass.
#[derive(serde::Serialize)]
pub struct WithReceipt<'a, T> {
    #[serde(flatten)]
    pub body: &'a T,
    /// Named as [`FIELD`].
    #[serde(rename = "x-llm-gateway")]
    pub receipt: &'a Receipt,
}

/// A serialised JSON object with the receipt appended as its last field; nothing else in it is
/// touched or re-serialised. `None` if `object` does not end like a JSON object.
pub fn append_receipt(object: &[u8], receipt: &Receipt) -> Option<Vec<u8>> {
    let end = object
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .filter(|&i| object[i] == b'}')?;
    let head = &object[..end];
    let empty = head
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .is_some_and(|i| head[i] == b'{');
    let mut json = Vec::with_capacity(object.len() + 512);
    json.extend_from_slice(head);
    if !empty {
        json.push(b',');
    }
    json.push(b'"');
    json.extend_from_slice(FIELD.as_bytes());
    json.extend_from_slice(b"\":");
    serde_json::to_writer(&mut json, receipt).ok()?;
    json.push(b'}');
    Some(json)
}

/// The JSON response for a body that is already a serialised JSON object, receipt appended.
pub fn appended_to(body: &[u8], receipt: &Receipt) -> Result<axum::response::Response, ApiError> {
    let json = append_receipt(body, receipt).ok_or_else(|| {
        tracing::error!("a provider body to append a receipt to is not a JSON object");
        ApiError::internal()
    })?;
    Ok(finish(json, receipt))
}

/// The JSON response a finished request answers with.
pub fn json_response<T: serde::Serialize>(
    body: &T,
    receipt: &Receipt,
) -> Result<axum::response::Response, ApiError> {
    let json = serde_json::to_vec(&WithReceipt { body, receipt }).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a response");
        ApiError::internal()
    })?;
    Ok(finish(json, receipt))
}

fn finish(json: Vec<u8>, receipt: &Receipt) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from(json));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    insert_header(response.headers_mut(), &receipt.header_value());
    response
}

pub fn insert_header(headers: &mut HeaderMap, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::catalog::Catalog;
    use http_body_util::BodyExt;

    fn receipt() -> Receipt {
        let model = Catalog::built_in()
            .unwrap()
            .get("openai/gpt-4o")
            .unwrap()
            .clone();
        Routed::direct(
            RequestContext {
                id: "req_1".into(),
                received: std::time::Instant::now(),
                caller: None,
            },
            model,
            Duration::ZERO,
        )
        .receipt(&Usage::new(1, 1), UsageSource::Provider)
    }

    async fn body_of(body: &str) -> serde_json::Value {
        let response = appended_to(body.as_bytes(), &receipt()).unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_receipt_is_appended_to_any_json_object() {
        let v = body_of("{\"id\":\"x\",\"n\":[1,2]}  \n").await;
        assert_eq!(v["id"], "x");
        assert_eq!(v["x-llm-gateway"]["request_id"], "req_1");
        let v = body_of("{ }").await;
        assert_eq!(v["x-llm-gateway"]["model"], "openai/gpt-4o");
        assert!(appended_to(b"[1]", &receipt()).is_err());
    }
}
