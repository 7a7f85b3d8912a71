//! Cohere's v2 API: `POST /v2/chat` (JSON, or SSE named events with `stream: true`) and
//! `POST /v2/embed`, with bearer authentication, Cohere's validation and its
//! `{"id", "message"}` error bodies. Every other path is a loud 404.
//!
//! Each request goes through the same steps as the OpenAI dialects: route, check the method
//! and the key, validate, check the model, apply directives (`hang`, `status`, delays), answer.

mod chat_reply;
mod chat_request;
mod embed;
mod error;

use axum::{
    Json,
    http::Method,
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use self::{chat_reply::Reply, chat_request::ChatRequest, embed::EmbedRequest, error::CohereError};
use crate::{
    FakeOptions,
    calls::{CallGuard, CallOutcome},
    content::Rng,
    server::{Incoming, Shared, cut_connection, event_stream, preempt},
    stream::{self, StreamPlan},
};

pub(crate) async fn handle(shared: &Shared, request: Incoming, call: CallGuard) -> Response {
    let chat = match request.path.as_str() {
        "/v2/chat" => true,
        "/v2/embed" => false,
        path => {
            return reject(
                call,
                CohereError::unknown_path(request.method.as_str(), path),
            );
        }
    };
    if request.method != Method::POST {
        return reject(
            call,
            CohereError::wrong_method(request.method.as_str(), &request.path),
        );
    }
    if let Err(error) = authorize(&shared.options, request.authorization.as_deref()) {
        return reject(call, error);
    }
    if chat {
        self::chat(shared, &request.body, call).await
    } else {
        self::embed(shared, &request.body, call).await
    }
}

async fn chat(shared: &Shared, body: &serde_json::Value, call: CallGuard) -> Response {
    let request = match ChatRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return reject(call, error),
    };
    if !serves(&shared.options.models, &request.model) {
        return reject(call, CohereError::model_not_found(&request.model));
    }
    let timing = request.directives.timing(&shared.options.behaviour);
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        &request.directives,
        timing.latency,
        &mut shutdown,
        |call, status, retry_after| reject(call, CohereError::simulated(status, retry_after)),
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    let reply = Reply::generate(&request, call.sequence());
    if request.stream {
        let events: Vec<Bytes> = reply
            .events()
            .into_iter()
            .map(|(name, data)| Bytes::from(format!("event: {name}\ndata: {data}\n\n")))
            .chain([Bytes::from_static(b"data: [DONE]\n\n")])
            .collect();
        let unpaced_from = events
            .iter()
            .position(|e| e.starts_with(b"event: message-end"));
        let plan = StreamPlan {
            ttft: timing.ttft,
            chunk_delay: timing.chunk_delay,
            stall_after: request.directives.stall_after,
            disconnect_after: request.directives.disconnect_after,
            unpaced_from,
        };
        return event_stream(stream::body(events, plan, call, shutdown));
    }
    if shutdown.sleep(timing.latency).await.is_err() {
        call.settle(CallOutcome::Aborted);
        return cut_connection("fake provider shut down before replying");
    }
    call.settle(CallOutcome::Completed);
    Json(reply.response()).into_response()
}

async fn embed(shared: &Shared, body: &serde_json::Value, call: CallGuard) -> Response {
    let request = match EmbedRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return reject(call, error),
    };
    if !serves(&shared.options.embedding_models, &request.model) {
        return reject(call, CohereError::model_not_found(&request.model));
    }
    let latency = request.directives.timing(&shared.options.behaviour).latency;
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        &request.directives,
        latency,
        &mut shutdown,
        |call, status, retry_after| reject(call, CohereError::simulated(status, retry_after)),
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    if shutdown.sleep(latency).await.is_err() {
        call.settle(CallOutcome::Aborted);
        return cut_connection("fake provider shut down before replying");
    }
    call.settle(CallOutcome::Completed);
    Json(request.response()).into_response()
}

/// A UUID-shaped id, as Cohere gives its answers and errors, determined by `seed`.
fn uuid(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// Cohere takes `Authorization: Bearer <key>` (any case of `bearer`).
fn authorize(options: &FakeOptions, authorization: Option<&str>) -> Result<(), CohereError> {
    let Some(expected) = &options.api_key else {
        return Ok(());
    };
    let token = authorization
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if token == expected => Ok(()),
        _ => Err(CohereError::unauthorized()),
    }
}

/// An empty list serves every model id.
fn serves(models: &[String], model: &str) -> bool {
    models.is_empty() || models.iter().any(|served| served == model)
}

fn reject(call: CallGuard, error: CohereError) -> Response {
    tracing::debug!(status = %error.status(), "fake Cohere rejected a request");
    call.settle(CallOutcome::Rejected);
    error.into_response()
}
