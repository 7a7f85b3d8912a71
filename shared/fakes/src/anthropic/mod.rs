//! Anthropic's Messages API: `POST /v1/messages` (JSON or SSE) and `GET /v1/models`, at the
//! root of the server as at `https://api.anthropic.com`.
//!
//! Each request goes through the steps Anthropic's API takes: route, method, `x-api-key`,
//! `anthropic-version`, body validation, model; then directives (`hang`, `status`, delays)
//! before the generated answer. Any other path is a 404 in Anthropic's error shape.

mod error;
mod fields;
mod messages;
mod reply;
mod request;

use axum::{
    Json,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde_json::json;

use self::{error::ApiError, reply::Reply, request::MessagesRequest};
use crate::{
    FakeOptions,
    calls::{CallGuard, CallOutcome},
    content::{alphanumeric, fingerprint},
    server::{Incoming, Shared, cut_connection, event_stream, preempt},
    stream::{self, StreamPlan},
};

const MESSAGES_PATH: &str = "/v1/messages";
const MODELS_PATH: &str = "/v1/models";
/// The API versions Anthropic accepts in `anthropic-version`.
const VERSIONS: &[&str] = &["2023-06-01", "2023-01-01"];

pub(crate) async fn handle(shared: &Shared, request: Incoming, call: CallGuard) -> Response {
    let method = request.method.as_str();
    let expected = match request.path.as_str() {
        MESSAGES_PATH => "POST",
        MODELS_PATH => "GET",
        path => {
            return reject(
                call,
                ApiError::not_found(format!("Not found: {method} {path}")),
            );
        }
    };
    // `?beta=true` selects Anthropic's beta API, which this fake does not emulate.
    if let Some(query) = &request.query {
        return reject(
            call,
            ApiError::not_found(format!("Not found: {method} {}?{query}", request.path)),
        );
    }
    if method != expected {
        return reject(call, ApiError::wrong_method(method, &request.path));
    }
    if let Err(error) = authorize(&shared.options, &request.headers) {
        return reject(call, error);
    }
    if request.path == MODELS_PATH {
        call.settle(CallOutcome::Completed);
        return models(&shared.options);
    }
    messages(shared, &request, call).await
}

/// `x-api-key` must be the configured key; `anthropic-version` must name a known version.
fn authorize(options: &FakeOptions, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(expected) = &options.api_key {
        match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            None => return Err(ApiError::unauthorized("x-api-key header is required")),
            Some(key) if key != expected => {
                return Err(ApiError::unauthorized("invalid x-api-key"));
            }
            Some(_) => {}
        }
    }
    match headers
        .get("anthropic-version")
        .and_then(|v| v.to_str().ok())
    {
        None => Err(ApiError::invalid("anthropic-version: header is required")),
        Some(version) if VERSIONS.contains(&version) => Ok(()),
        Some(version) => Err(ApiError::invalid(format!(
            "anthropic-version: invalid version `{version}`"
        ))),
    }
}

async fn messages(shared: &Shared, incoming: &Incoming, call: CallGuard) -> Response {
    let request = match MessagesRequest::parse(&incoming.body) {
        Ok(request) => request,
        Err(error) => return reject(call, error),
    };
    let served = &shared.options.models;
    if !served.is_empty() && !served.contains(&request.model) {
        return reject(call, ApiError::model_not_found(&request.model));
    }
    let directives = &request.directives;
    let timing = directives.timing(&shared.options.behaviour);
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        directives,
        timing.latency,
        &mut shutdown,
        |call, status, retry_after| reject(call, ApiError::simulated(status, retry_after)),
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    let reply = Reply::generate(&request);
    let id = format!(
        "msg_01{}",
        alphanumeric(
            fingerprint(&[
                &request.fingerprint.to_le_bytes(),
                &call.sequence().to_le_bytes()
            ]),
            22
        )
    );
    let usage = !directives.omit_usage;
    if request.stream {
        let events = reply.events(&id, &request, usage);
        let unpaced_from = events.iter().position(|(name, _)| *name == "message_delta");
        let events = events
            .into_iter()
            .map(|(name, data)| Bytes::from(format!("event: {name}\ndata: {data}\n\n")))
            .collect();
        let plan = StreamPlan {
            ttft: timing.ttft,
            chunk_delay: timing.chunk_delay,
            stall_after: directives.stall_after,
            disconnect_after: directives.disconnect_after,
            unpaced_from,
        };
        return event_stream(stream::body(events, plan, call, shutdown));
    }
    if shutdown.sleep(timing.latency).await.is_err() {
        call.settle(CallOutcome::Aborted);
        return cut_connection("fake provider shut down before replying");
    }
    let message = reply.message(&id, &request, usage);
    call.settle(CallOutcome::Completed);
    Json(message).into_response()
}

/// Anthropic's model list.
fn models(options: &FakeOptions) -> Response {
    let data: Vec<_> = options
        .models
        .iter()
        .map(|id| {
            json!({
                "type": "model",
                "id": id,
                "display_name": id,
                "created_at": "2025-01-01T00:00:00Z",
                "max_input_tokens": null,
                "max_tokens": null,
                "capabilities": null,
            })
        })
        .collect();
    Json(json!({
        "data": data,
        "has_more": false,
        "first_id": options.models.first(),
        "last_id": options.models.last(),
    }))
    .into_response()
}

fn reject(call: CallGuard, error: ApiError) -> Response {
    tracing::debug!(status = error.status(), "fake Anthropic rejected a request");
    call.settle(CallOutcome::Rejected);
    error.respond()
}
