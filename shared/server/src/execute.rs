//! Executing a routing plan: each planned model in turn, behind its circuit breaker, until one
//! answers.
//!
//! Only retryable failures (5xx, overload, rate limits, timeouts, unreachable providers, broken
//! streams) move on to the next model; anything that is the request's own fault is answered at
//! once. Every call has a time limit (`routing.attempt_timeout_ms`) and all calls together
//! share the request's deadline (`routing.deadline_ms`). A stream moves on only before its
//! first token: once bytes reach the client, the answer is that provider's. Each attempt's
//! outcome feeds the breakers and live statistics; every failed or skipped attempt is in the
//! receipt.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::Response;
use gateway_core::catalog::ModelEntry;
use gateway_core::health::{Admission, HealthStore, Outcome};
use gateway_core::receipt::{AttemptReport, RoutingDecision, UsageSource};
use gateway_core::upstream::{ChatReply, ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatCompletion, ChatRequest};
use gateway_core::{ApiError, ErrorKind, tokens};
use tokio::time::Instant;

use crate::errors::ErrorResponse;
use crate::receipts::{self, Routed};
use crate::state::AppState;
use crate::unfinished::Unanswered;
use crate::{stream, usage};

/// One admitted call. Its outcome is reported with [`AttemptGuard::finish`]; dropped without
/// one (the client went away), it reports nothing about the provider and frees its probe slot.
pub struct AttemptGuard {
    health: Arc<dyn HealthStore>,
    model: String,
    admission: Admission,
    started: Instant,
    finished: bool,
}

impl AttemptGuard {
    fn new(health: Arc<dyn HealthStore>, model: &str, admission: Admission) -> Self {
        AttemptGuard {
            health,
            model: model.to_owned(),
            admission,
            started: Instant::now(),
            finished: false,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn finish(mut self, outcome: Outcome) {
        self.finished = true;
        self.health.record(&self.model, self.admission, outcome);
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.health
                .record(&self.model, self.admission, Outcome::Neutral);
        }
    }
}

/// Calls `attempts` in order until one answers; the response carries the receipt. An attempt
/// whose provider cannot take the request (caught by its adapter before any call) is passed
/// over for the next of `alternates`, when there is one, and does not count as a failure;
/// only the model a client named itself answers such a request with the refusal at once.
pub async fn run(
    state: &AppState,
    mut routed: Routed,
    mut attempts: Vec<&ModelEntry>,
    alternates: &[&ModelEntry],
    request: ChatRequest,
    request_body: Bytes,
) -> Result<Response<Body>, ErrorResponse> {
    let deadline = state
        .deadline
        .map(|d| Instant::from_std(routed.context.received + d));
    let streaming = request.is_stream();
    let per_attempt = state.attempt_timeout.unwrap_or(if streaming {
        state.upstream.first_chunk_timeout()
    } else {
        state.upstream.request_timeout()
    });
    let mut request = Some(request);
    let mut last_error = None;
    let mut alternates = alternates.iter().copied();
    let mut i = 0;
    while let Some(&model) = attempts.get(i) {
        i += 1;
        let now = Instant::now();
        let attempt_deadline = match deadline {
            Some(d) if d <= now => break,
            Some(d) => d.min(now + per_attempt),
            None => now + per_attempt,
        };
        if i > 1 {
            routed.model = model.clone();
        }
        let mut admission = state.health.admit(&model.id);
        if admission == Admission::Probe {
            admission = state.health.claim_probe(&model.id).await;
        }
        if let Admission::Rejected { retry_in } = admission {
            let error = circuit_open(model, retry_in);
            routed
                .failed_attempts
                .push(attempt_report(model, &error, Duration::ZERO));
            last_error = Some(error);
            continue;
        }
        let provider = state.provider(model.provider())?;
        let mut call = if i == attempts.len() && alternates.len() == 0 {
            request.take()
        } else {
            request.clone()
        }
        .ok_or_else(ApiError::internal)?;
        call.model = model.upstream_name().to_owned();
        let guard = AttemptGuard::new(state.health.clone(), &model.id, admission);

        let mut unanswered = Unanswered::new(state, &routed, &request_body);
        let failure = if streaming {
            let wants_usage = call.wants_stream_usage();
            let opened = stream::open(provider.as_ref(), call, attempt_deadline).await;
            unanswered.answered();
            match opened {
                Ok(opened) => {
                    let relay = stream::RelayParts {
                        opened,
                        attempt: guard,
                        request_body: request_body.clone(),
                        client_wants_usage: wants_usage,
                    };
                    return Ok(stream::respond(state, routed, relay));
                }
                Err(e) => e,
            }
        } else {
            match tokio::time::timeout_at(attempt_deadline, provider.chat(call)).await {
                Ok(Ok(reply)) => {
                    let answered =
                        complete(state, &routed, reply, &request_body, guard, &mut unanswered)
                            .await;
                    unanswered.answered();
                    return answered;
                }
                Ok(Err(e)) => {
                    unanswered.answered();
                    e
                }
                Err(_) => {
                    unanswered.answered();
                    ProviderError::new(ProviderErrorKind::Timeout, "timed out")
                }
            }
        };
        let latency = guard.elapsed();
        let error = failure.to_api_error(provider.id());
        routed
            .failed_attempts
            .push(attempt_report(model, &error, latency));
        let named = i == 1 && routed.decision == RoutingDecision::Direct;
        if failure.kind == ProviderErrorKind::Unsupported && !named {
            // Not this model's to serve, nor a failure of its provider's.
            guard.finish(Outcome::Neutral);
            attempts.extend(alternates.next());
            last_error.get_or_insert(error);
            continue;
        }
        if !failure.is_retryable() {
            // The request's own fault: another model would refuse it too.
            guard.finish(Outcome::Neutral);
            return Err(failed(state, routed, error));
        }
        guard.finish(Outcome::Failure { total: latency });
        tracing::warn!(model = %model.id, error = %error, "attempt failed");
        last_error = Some(error);
    }
    let error = last_error.unwrap_or_else(|| {
        ProviderError::new(ProviderErrorKind::Timeout, "the request's deadline passed")
            .to_api_error(routed.model.provider())
    });
    Err(failed(state, routed, error))
}

/// No attempt answered: the receipt (every attempt in it) goes to the log, and the client gets
/// the last attempt's error with a header saying whether earlier ones were tried.
fn failed(state: &AppState, mut routed: Routed, error: ApiError) -> ErrorResponse {
    let receipt = routed.failure_receipt(&error);
    routed.context.record(&receipt, error.status().as_u16());
    state.receipts.push(receipt);
    routed.failed_attempts.pop();
    routed.error(error)
}

fn circuit_open(model: &ModelEntry, retry_in: Duration) -> ApiError {
    let secs = retry_in.as_secs() + u64::from(retry_in.subsec_nanos() > 0);
    ApiError::new(
        ErrorKind::Unavailable,
        format!(
            "The model `{}` is temporarily disabled after repeated failures (circuit open).",
            model.id
        ),
    )
    .with_code("circuit_open")
    .with_retry_after(Some(Duration::from_secs(secs.max(1))))
}

fn attempt_report(model: &ModelEntry, error: &ApiError, latency: Duration) -> AttemptReport {
    AttemptReport {
        provider: model.provider().to_owned(),
        model: model.id.clone(),
        error: error
            .code
            .as_deref()
            .unwrap_or(error.kind.label())
            .to_owned(),
        message: error.message.clone(),
        latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
    }
}

/// A non-streamed answer: the provider's body with usage and the receipt added.
async fn complete(
    state: &AppState,
    routed: &Routed,
    reply: ChatReply,
    request_body: &Bytes,
    guard: AttemptGuard,
    unanswered: &mut Unanswered<'_>,
) -> Result<Response<Body>, ErrorResponse> {
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
            unanswered.received(&output);
            let usage = usage::count(request_body.clone(), output).await;
            let receipt = routed.receipt(&usage, UsageSource::Gateway);
            completion.usage = Some(usage);
            let response =
                receipts::json_response(&completion, &receipt).map_err(|e| routed.error(e))?;
            (response, receipt)
        }
    };
    let total = guard.elapsed();
    guard.finish(Outcome::Success {
        ttft: None,
        total,
        output_tokens: receipt.tokens.completion,
    });
    tracing::info!(
        model = %receipt.model,
        cost_usd = receipt.cost_usd,
        latency_ms = receipt.latency_ms,
        fallback_used = receipt.fallback_used,
        "chat completion"
    );
    routed.context.record(&receipt, response.status().as_u16());
    state.receipts.push(receipt);
    Ok(response)
}
