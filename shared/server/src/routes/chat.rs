//! `POST /v1/chat/completions`: validate, plan the route (the named model or `auto`, then
//! fallbacks), execute it, answer with a receipt.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Response};
use gateway_core::ApiError;
use gateway_core::routing::{
    AUTO, AutoInputs, FALLBACK_FIELD, HINTS_FIELD, Plan, QualityPredictor, RequestAnalysis,
    RoutingHints, analyse, hints, task_text,
};
use gateway_core::wire::{ChatRequest, parse_json_body};

use crate::errors::{ErrorResponse, body_rejection};
use crate::execute;
use crate::receipts::Routed;
use crate::request_id::RequestContext;
use crate::state::AppState;

/// Bodies larger than this are analysed on the blocking pool: counting their tokens would hold
/// up other requests on the async runtime.
const ANALYSE_INLINE_MAX_BYTES: usize = 32 * 1024;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response<Body>, ErrorResponse> {
    let body = body.map_err(|r| body_rejection(r, state.max_body_bytes))?;
    let mut request: ChatRequest = parse_json_body(&body)?;
    request.validate()?;
    let routing_hints = RoutingHints::from_request(
        request.routing_hints.take().as_ref(),
        header(&headers, HINTS_FIELD)?,
    )?;
    let chain = hints::fallback_chain_from_request(
        request.fallback_chain.take(),
        header(&headers, FALLBACK_FIELD)?,
    )?;

    let routing_started = Instant::now();
    let preferences = state.preferences_for(&context);
    let preferences = preferences.as_ref();
    let plan = if request.model == AUTO {
        let analysis;
        let learned;
        let predictor: &dyn QualityPredictor = match &state.learned {
            Some(model) => {
                let prompt = task_text(&request);
                ((request, analysis), learned) =
                    tokio::join!(analysed(request, body.len()), model.for_prompt(prompt));
                &learned
            }
            None => {
                (request, analysis) = analysed(request, body.len()).await;
                state.predictor.as_ref()
            }
        };
        let inputs = AutoInputs {
            analysis: &analysis,
            hints: &routing_hints,
            preferences,
            health: state.health.as_ref(),
            predictor,
        };
        state.router.plan_auto(&inputs, chain.as_deref())?
    } else {
        state
            .router
            .plan_direct(&request, chain.as_deref(), preferences)?
    };
    let Plan {
        decision,
        attempts,
        report,
    } = plan;
    let first = attempts.first().ok_or_else(ApiError::internal)?;
    let routed = Routed {
        context,
        model: (*first).clone(),
        decision,
        routing_overhead: routing_started.elapsed(),
        routing: report,
        failed_attempts: Vec::new(),
        baseline: state.router.baseline(preferences).cloned(),
    };
    execute::run(&state, routed, &attempts, request, body).await
}

/// The request's analysis for `auto`, counted off the async runtime when the prompt is large.
async fn analysed(request: ChatRequest, body_bytes: usize) -> (ChatRequest, RequestAnalysis) {
    if body_bytes <= ANALYSE_INLINE_MAX_BYTES {
        let analysis = analyse(&request);
        return (request, analysis);
    }
    let request = Arc::new(request);
    let shared = request.clone();
    let analysis = tokio::task::spawn_blocking(move || analyse(&shared)).await;
    let request = Arc::try_unwrap(request).unwrap_or_else(|shared| (*shared).clone());
    // Should the blocking pool be gone, analyse here rather than fail the request.
    let analysis = analysis.unwrap_or_else(|_| analyse(&request));
    (request, analysis)
}

/// A routing header as text; a header that is not text is a 400 naming it.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::invalid_param(name, format!("The `{name}` header must be JSON text."))
            })
        })
        .transpose()
}
