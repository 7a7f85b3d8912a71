//! `POST /v1/chat/completions`: validate, route, call the provider, answer with a receipt.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::Response;
use gateway_core::ApiError;
use gateway_core::receipt::UsageSource;
use gateway_core::tokens;
use gateway_core::upstream::Provider;
use gateway_core::wire::{ChatCompletion, ChatRequest, parse_json_body};

use crate::errors::{ErrorResponse, body_rejection, upstream_timeout};
use crate::receipts::{self, Routed};
use crate::request_id::RequestContext;
use crate::state::AppState;
use crate::{stream, usage};

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(context): Extension<RequestContext>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response<Body>, ErrorResponse> {
    let body = body.map_err(|r| body_rejection(r, state.max_body_bytes))?;
    let mut request: ChatRequest = parse_json_body(&body)?;
    request.validate()?;

    let routing_started = Instant::now();
    let route = state.router.route_chat(&request)?;
    let provider = state.provider(route.model.provider())?;
    let routed = Routed {
        context,
        model: route.model.clone(),
        decision: route.decision,
        routing_overhead: routing_started.elapsed(),
    };
    request.model = routed.model.upstream_name().to_owned();
    request.routing_hints = None;
    request.fallback_chain = None;

    if request.is_stream() {
        let header = routed.stream_header();
        return stream::relay(&state, routed, provider, request, body)
            .await
            .map_err(|error| ErrorResponse {
                error,
                receipt_header: Some(header),
            });
    }
    complete(&state, routed, provider, request, body).await
}

/// A non-streamed call: the provider's answer with usage and the receipt added.
async fn complete(
    state: &AppState,
    routed: Routed,
    provider: Arc<dyn Provider>,
    request: ChatRequest,
    request_body: Bytes,
) -> Result<Response<Body>, ErrorResponse> {
    let reply = tokio::time::timeout(state.upstream.request_timeout(), provider.chat(request))
        .await
        .map_err(|_| routed.error(upstream_timeout(provider.id())))?
        .map_err(|e| routed.error(e.to_api_error(provider.id())))?;

    let (response, receipt) = match &reply.usage {
        // The usual case: the provider's body goes out as it came, with the receipt appended.
        Some(usage) => {
            let receipt = routed.receipt(usage, UsageSource::Provider);
            let response =
                receipts::appended_to(&reply.body, &receipt).map_err(|e| routed.error(e))?;
            (response, receipt)
        }
        // No usage reported: count it, and put it in the answer too.
        None => {
            let mut completion: ChatCompletion = serde_json::from_slice(&reply.body)
                .map_err(|_| routed.error(ApiError::internal()))?;
            let mut output = tokens::OutputText::default();
            completion.for_each_output_text(|t| output.push(t));
            let usage = usage::count(request_body, output).await;
            let receipt = routed.receipt(&usage, UsageSource::Gateway);
            completion.usage = Some(usage);
            let response =
                receipts::json_response(&completion, &receipt).map_err(|e| routed.error(e))?;
            (response, receipt)
        }
    };
    tracing::info!(
        model = %receipt.model,
        cost_usd = receipt.cost_usd,
        latency_ms = receipt.latency_ms,
        "chat completion"
    );
    routed.context.record(&receipt, response.status().as_u16());
    Ok(response)
}
