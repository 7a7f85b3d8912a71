//! `POST /v1/embeddings`: any provider's embedding model, with `encoding_format` honoured by the
//! gateway itself (providers always return floats to it).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use base64::Engine;
use gateway_core::receipt::UsageSource;
use gateway_core::wire::{
    EmbeddingVector, EmbeddingsRequest, EncodingFormat, Usage, parse_json_body,
};
use std::time::Instant;

use crate::draining;
use crate::errors::{ErrorResponse, body_rejection, upstream_timeout};
use crate::receipts::{self, Routed};
use crate::request_id::RequestContext;
use crate::state::AppState;
use crate::unfinished::Unanswered;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(context): Extension<RequestContext>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ErrorResponse> {
    let grace_over = state.grace_over.clone();
    // Boxed for the reason given in `chat::create`.
    draining::unless_ended(&grace_over, Box::pin(answer(state, context, body))).await
}

async fn answer(
    state: Arc<AppState>,
    context: RequestContext,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ErrorResponse> {
    let body = body.map_err(|r| body_rejection(r, state.max_body_bytes))?;
    let mut request: EmbeddingsRequest = parse_json_body(&body)?;
    request.validate()?;
    let routing_started = Instant::now();
    let model = state.router.route_embedding(&request.model)?.clone();
    let provider = state.provider(model.provider())?;
    let routed = Routed::direct(context, model, routing_started.elapsed())
        .with_platform_fee(state.platform_fee_percent);
    let format = request.encoding_format.unwrap_or_default();
    request.model = routed.model.upstream_name().to_owned();
    // The provider bills the input once it has it, whether or not the client waits for the answer.
    let unanswered = Unanswered::new(&state, &routed, &body);
    let called = tokio::time::timeout(
        state.upstream.request_timeout(),
        provider.embeddings(request),
    )
    .await;
    unanswered.answered();
    let mut response = called
        .map_err(|_| routed.error(upstream_timeout(provider.id())))?
        .map_err(|e| routed.error(e.to_api_error(provider.id())))?;
    if format == EncodingFormat::Base64 {
        for item in &mut response.data {
            if let EmbeddingVector::Float(values) = &item.embedding {
                item.embedding = EmbeddingVector::Base64(encode_base64(values));
            }
        }
    }
    let usage = Usage::new(response.usage.prompt_tokens, 0);
    let receipt = routed.receipt(&usage, UsageSource::Provider);
    let response = receipts::json_response(&response, &receipt).map_err(|e| routed.error(e))?;
    Ok(response)
}

/// OpenAI's base64 form: the little-endian bytes of each `f32`.
fn encode_base64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_little_endian_f32() {
        let encoded = encode_base64(&[1.0, -2.5]);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat()
        );
    }
}
