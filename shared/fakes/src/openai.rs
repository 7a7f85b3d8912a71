//! The OpenAI-style dialects (OpenAI, Groq, Together, Mistral): Chat Completions
//! (streamed or not), Embeddings and Models, under any path prefix, each with its
//! provider's validation and error shapes. One implementation serves them all; what
//! differs is in the `dialects` tables.
//!
//! Each request goes through the same steps: route by path suffix, check the method and
//! the API key, validate the body against the dialect's rules, check the model, then
//! apply directives (`hang`, `status`, delays) before answering with generated content.

mod chat_messages;
mod chat_reply;
mod chat_request;
mod chat_tools;
mod checks;
mod dialects;
mod embeddings;
mod error;
mod families;
mod params;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde_json::{Value, json};

use self::{
    chat_reply::{Envelope, Reply},
    chat_request::ChatRequest,
    dialects::Rules,
    embeddings::EmbeddingRequest,
    error::{ApiError, ErrorStyle},
};
use crate::{
    FakeOptions,
    calls::{CallGuard, CallOutcome},
    content::{alphanumeric, fingerprint},
    directives::Directives,
    server::{Incoming, Shared, cut_connection, event_stream, preempt},
    stream::{self, StreamPlan},
};

/// `created` of every listed model.
const MODEL_CREATED: u64 = 1_700_000_000;

#[derive(Clone, Copy, Debug)]
enum Route {
    ChatCompletions,
    Embeddings,
    Models,
}

impl Route {
    fn of(path: &str) -> Option<Self> {
        [
            ("/chat/completions", Self::ChatCompletions),
            ("/embeddings", Self::Embeddings),
            ("/models", Self::Models),
        ]
        .into_iter()
        .find(|(suffix, _)| path.ends_with(suffix))
        .map(|(_, route)| route)
    }

    fn method(self) -> &'static str {
        match self {
            Self::Models => "GET",
            Self::ChatCompletions | Self::Embeddings => "POST",
        }
    }
}

pub(crate) async fn handle(shared: &Shared, request: Incoming, call: CallGuard) -> Response {
    let rules = Rules::of(shared.dialect);
    let style = rules.errors;
    let Some(route) = Route::of(&request.path) else {
        return reject(
            call,
            ApiError::unknown_url(&request.method, &request.path),
            style,
        );
    };
    if request.method.as_str() != route.method() {
        return reject(
            call,
            ApiError::wrong_method(&request.method, &request.path, route.method()),
            style,
        );
    }
    if let Err(error) = authorize(&shared.options, request.authorization.as_deref()) {
        return reject(call, error, style);
    }
    match route {
        Route::ChatCompletions => chat(shared, rules, &request.body, call).await,
        Route::Embeddings => embed(shared, rules, &request.body, call).await,
        Route::Models => {
            call.settle(CallOutcome::Completed);
            models(&shared.options)
        }
    }
}

async fn chat(shared: &Shared, rules: &Rules, body: &Value, call: CallGuard) -> Response {
    let request = match ChatRequest::parse(body, rules) {
        Ok(request) => request,
        Err(error) => return reject(call, error, rules.errors),
    };
    if !serves(&shared.options.models, &request.model) {
        return reject(
            call,
            ApiError::model_not_found(&request.model),
            rules.errors,
        );
    }
    let directives = &request.directives;
    let timing = directives.timing(&shared.options.behaviour);
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        directives,
        timing.latency,
        &mut shutdown,
        |call, status, retry_after| {
            reject(call, ApiError::simulated(status, retry_after), rules.errors)
        },
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    let reply = Reply::generate(&request);
    let envelope = Envelope {
        id: format!(
            "chatcmpl-{}",
            alphanumeric(
                fingerprint(&[
                    &request.fingerprint.to_le_bytes(),
                    &call.sequence().to_le_bytes()
                ]),
                29
            )
        ),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        model: &request.model,
    };
    let usage = (!directives.omit_usage).then(|| reply.usage(&request));
    if request.stream {
        let events = reply
            .chunks(&request, &envelope, usage, rules.chat.stream_usage)
            .iter()
            .map(|chunk| Bytes::from(format!("data: {chunk}\n\n")))
            .chain([Bytes::from_static(b"data: [DONE]\n\n")])
            .collect::<Vec<_>>();
        let unpaced_from = events
            .iter()
            .position(|e| e.windows(17).any(|w| w == br#""finish_reason":""#));
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
    let completion = reply.completion(&request, &envelope, usage);
    call.settle(CallOutcome::Completed);
    Json(completion).into_response()
}

async fn embed(shared: &Shared, rules: &Rules, body: &Value, call: CallGuard) -> Response {
    let request = match EmbeddingRequest::parse(body, rules) {
        Ok(request) => request,
        Err(error) => return reject(call, error, rules.errors),
    };
    if !serves(&shared.options.embedding_models, &request.model) {
        return reject(
            call,
            ApiError::model_not_found(&request.model),
            rules.errors,
        );
    }
    let latency = request.directives.timing(&shared.options.behaviour).latency;
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        &request.directives,
        latency,
        &mut shutdown,
        |call, status, retry_after| {
            reject(call, ApiError::simulated(status, retry_after), rules.errors)
        },
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
    let response = request.respond();
    call.settle(CallOutcome::Completed);
    response
}

/// A chat request in OpenAI's schema answered without HTTP, for protocols that carry that
/// schema inside their own (SageMaker containers): validated by OpenAI's rules, answered
/// with the same content an OpenAI fake would give.
pub(crate) struct ContainerChat {
    request: ChatRequest,
}

/// A container's answer: one `chat.completion`, or the `chat.completion.chunk`s of a stream.
pub(crate) enum ContainerAnswer {
    Completion(Value),
    Chunks(Vec<Value>),
}

impl ContainerChat {
    /// `model` is the served model's name, put in the body when the caller left it out (as
    /// containers do).
    pub(crate) fn parse(body: &Value, model: &str) -> Result<Self, Box<Response>> {
        let mut body = body.clone();
        if let Value::Object(map) = &mut body {
            map.entry("model").or_insert_with(|| json!(model));
        }
        let rules = Rules::of(crate::Dialect::OpenAi);
        ChatRequest::parse(&body, rules)
            .map(|request| ContainerChat { request })
            .map_err(|error| Box::new(error.respond(rules.errors)))
    }

    pub(crate) fn directives(&self) -> &Directives {
        &self.request.directives
    }

    pub(crate) fn stream(&self) -> bool {
        self.request.stream
    }

    pub(crate) fn answer(&self, sequence: usize) -> ContainerAnswer {
        let request = &self.request;
        let reply = Reply::generate(request);
        let envelope = Envelope {
            id: format!(
                "chatcmpl-{}",
                alphanumeric(
                    fingerprint(&[&request.fingerprint.to_le_bytes(), &sequence.to_le_bytes()]),
                    29
                )
            ),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            model: &request.model,
        };
        let usage = (!request.directives.omit_usage).then(|| reply.usage(request));
        if request.stream {
            let placement = Rules::of(crate::Dialect::OpenAi).chat.stream_usage;
            ContainerAnswer::Chunks(reply.chunks(request, &envelope, usage, placement))
        } else {
            ContainerAnswer::Completion(reply.completion(request, &envelope, usage))
        }
    }
}

fn models(options: &FakeOptions) -> Response {
    let data: Vec<Value> = options
        .models
        .iter()
        .chain(&options.embedding_models)
        .map(|id| json!({ "id": id, "object": "model", "created": MODEL_CREATED, "owned_by": "fake" }))
        .collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

fn authorize(options: &FakeOptions, authorization: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = &options.api_key else {
        return Ok(());
    };
    let token = authorization
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    match token {
        Some(token) if token == expected => Ok(()),
        Some(_) => Err(ApiError::unauthorized(true)),
        None => Err(ApiError::unauthorized(false)),
    }
}

/// An empty list serves every model id.
fn serves(models: &[String], model: &str) -> bool {
    models.is_empty() || models.iter().any(|served| served == model)
}

fn reject(call: CallGuard, error: ApiError, style: ErrorStyle) -> Response {
    tracing::debug!(status = %error.status(style), "fake provider rejected a request");
    call.settle(CallOutcome::Rejected);
    error.respond(style)
}
