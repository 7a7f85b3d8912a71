//! `POST /v1/chat/completions`: validate, plan the route (the named model or `auto`, then
//! fallbacks) within the organisation's spend limits, hold the worst case against them,
//! execute it, answer with a receipt.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Response};
use gateway_core::ApiError;
use gateway_core::catalog::ModelEntry;
use gateway_core::routing::{
    AUTO, AutoInputs, FALLBACK_FIELD, HINTS_FIELD, Plan, QualityPredictor, RequestAnalysis,
    RoutingHints, analyse, hints, task_text,
};
use gateway_core::wire::{ChatRequest, parse_json_body};
use gateway_store::Timestamp;

use crate::access::{Access, Caller};
use crate::errors::{ErrorResponse, body_rejection};
use crate::receipts::Routed;
use crate::request_id::RequestContext;
use crate::spend::budget;
use crate::state::AppState;
use crate::{draining, execute};

/// Bodies larger than this are analysed on the blocking pool: should a context window be near
/// their estimated size, counting their tokens exactly would hold up other requests on the
/// async runtime.
const ANALYSE_INLINE_MAX_BYTES: usize = 32 * 1024;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response<Body>, ErrorResponse> {
    let grace_over = state.grace_over.clone();
    // Boxed, the answer's state is held once per request in flight rather than twice (13 KB
    // instead of 6).
    draining::unless_ended(&grace_over, Box::pin(answer(state, context, headers, body))).await
}

async fn answer(
    state: Arc<AppState>,
    context: RequestContext,
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
    let spend = SpendCheck::start(&state, &context, &body).await;
    let preferences = state.preferences_for(&context);
    let preferences = preferences.as_ref();
    let plan = if request.model == AUTO {
        let analysis;
        let learned;
        let predictor: &dyn QualityPredictor = match &state.learned {
            Some(model) => {
                let prompt = task_text(&request);
                ((request, analysis), learned) = tokio::join!(
                    analysed(&state, request, body.len()),
                    model.for_prompt(prompt)
                );
                &learned
            }
            None => {
                (request, analysis) = analysed(&state, request, body.len()).await;
                state.predictor.as_ref()
            }
        };
        let prompt_tokens = spend.prompt_tokens.max(analysis.prompt_tokens);
        let cheapest_refused: RefCell<Option<(u64, String)>> = RefCell::new(None);
        let affordable = |model: &ModelEntry| {
            let Some(check) = &spend.limited else {
                return true;
            };
            let worst = check
                .budget()
                .worst_case_micros(model, &request, prompt_tokens);
            let fits = worst <= check.allowance.max_micros;
            if !fits {
                let mut cheapest = cheapest_refused.borrow_mut();
                if cheapest.as_ref().is_none_or(|(w, _)| worst < *w) {
                    *cheapest = Some((worst, model.id.clone()));
                }
            }
            fits
        };
        let inputs = AutoInputs {
            analysis: &analysis,
            hints: &routing_hints,
            preferences,
            health: state.health.as_ref(),
            predictor,
            affordable: spend
                .limited
                .is_some()
                .then_some(&affordable as &dyn Fn(&ModelEntry) -> bool),
        };
        match state.router.plan_auto(&inputs, chain.as_deref()) {
            Ok(plan) => plan,
            Err(error) => {
                // Models were left out for cost: that is the answer, not "no capable model".
                let refused = cheapest_refused.borrow().clone();
                return Err(match (refused, &spend.limited) {
                    (Some((worst, model)), Some(check)) => {
                        budget::refusal(&check.allowance, worst, &model, spend.now).into()
                    }
                    _ => error.into(),
                });
            }
        }
    } else {
        state
            .router
            .plan_direct(&request, chain.as_deref(), preferences)?
    };
    let Plan {
        decision,
        mut attempts,
        mut alternates,
        report,
    } = plan;
    spend.hold(&request, &mut attempts, &mut alternates).await?;
    let first = attempts.first().ok_or_else(ApiError::internal)?;
    let routed = Routed {
        context,
        model: (*first).clone(),
        decision,
        routing_overhead: routing_started.elapsed(),
        routing: report,
        failed_attempts: Vec::new(),
        baseline: state.router.baseline(preferences).cloned(),
        platform_fee_percent: state.platform_fee_percent,
    };
    execute::run(&state, routed, attempts, &alternates, request, body).await
}

/// The request's analysis for `auto`, off the async runtime when the prompt is large (its
/// tokens are counted exactly should a context window be near its estimate) or the tokenizer's
/// tables are not built yet (the first `auto` request builds them: they take tens of megabytes
/// that a gateway never routing `auto` does not spend).
async fn analysed(
    state: &Arc<AppState>,
    request: ChatRequest,
    body_bytes: usize,
) -> (ChatRequest, RequestAnalysis) {
    let windows = state.router.context_windows();
    if body_bytes <= ANALYSE_INLINE_MAX_BYTES && gateway_core::tokens::is_ready() {
        let analysis = analyse(&request, windows);
        return (request, analysis);
    }
    let request = Arc::new(request);
    let shared = request.clone();
    let owned = state.clone();
    let analysis =
        tokio::task::spawn_blocking(move || analyse(&shared, owned.router.context_windows())).await;
    let request = Arc::try_unwrap(request).unwrap_or_else(|shared| (*shared).clone());
    // Should the blocking pool be gone, analyse here rather than fail the request.
    let analysis = analysis.unwrap_or_else(|_| analyse(&request, windows));
    (request, analysis)
}

/// The spend limits of one request: what its organisation may still spend, read before
/// routing so that `auto` can leave out what the budget cannot pay for.
struct SpendCheck {
    /// The request's prompt estimated as the tokens-per-minute limit does: bytes / 4.
    prompt_tokens: u64,
    now: Timestamp,
    caller: Option<Arc<Caller>>,
    limited: Option<Limited>,
}

struct Limited {
    access: Arc<Access>,
    allowance: budget::Allowance,
}

impl Limited {
    fn budget(&self) -> &budget::Budget {
        &self.access.budget
    }
}

impl SpendCheck {
    async fn start(state: &AppState, context: &RequestContext, body: &[u8]) -> Self {
        let now = Timestamp::now();
        let caller = context.caller.clone();
        let limited =
            match (&caller, &state.access) {
                (Some(caller), Some(access)) => access
                    .budget
                    .allowance(&caller.org, now)
                    .await
                    .map(|allowance| Limited {
                        access: access.clone(),
                        allowance,
                    }),
                _ => None,
            };
        SpendCheck {
            prompt_tokens: u64::try_from(body.len() / 4).unwrap_or(u64::MAX),
            now,
            caller,
            limited,
        }
    }

    /// Refuses a first model the budget cannot pay for, drops fallbacks it cannot pay for,
    /// and reserves the most expensive worst case left; drops alternates that would cost more
    /// than that reservation. Before any provider call.
    async fn hold(
        &self,
        request: &ChatRequest,
        attempts: &mut Vec<&ModelEntry>,
        alternates: &mut Vec<&ModelEntry>,
    ) -> Result<(), ErrorResponse> {
        let (Some(check), Some(caller)) = (&self.limited, &self.caller) else {
            return Ok(());
        };
        let budget = check.budget();
        let worst = |m: &ModelEntry| budget.worst_case_micros(m, request, self.prompt_tokens);
        let first = attempts.first().ok_or_else(ApiError::internal)?;
        let first_worst = worst(first);
        if first_worst > check.allowance.max_micros {
            return Err(budget::refusal(&check.allowance, first_worst, &first.id, self.now).into());
        }
        let mut index = 0;
        attempts.retain(|m| {
            index += 1;
            index == 1 || worst(m) <= check.allowance.max_micros
        });
        let most = attempts
            .iter()
            .map(|m| worst(m))
            .max()
            .unwrap_or(first_worst);
        alternates.retain(|m| worst(m) <= most);
        let reservation = budget.reserve(&caller.org, most, self.now).await?;
        caller.hold_spend(reservation);
        Ok(())
    }
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
