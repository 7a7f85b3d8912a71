//! Google Gemini's native API (v1beta): `models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse`, `:embedContent` and `:batchEmbedContents`, under any
//! path prefix (the part before `/v1beta/models/`).
//!
//! Each request goes through the same steps: route by the method after the model's `:`,
//! check the API key (`x-goog-api-key` header or `key` query parameter), validate the body
//! as the real API does, check the model, then apply directives (`hang`, `status`, delays)
//! before answering with generated content. Anything else (model listing, token counting,
//! caching, files, the JSON-array form of streaming) is refused loudly.

mod embeddings;
mod error;
mod reply;
mod request;

use axum::{
    Json,
    http::Method,
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use self::{embeddings::EmbedRequest, error::GoogleError, reply::Reply, request::GenerateRequest};
use crate::{
    FakeOptions,
    calls::{CallGuard, CallOutcome},
    content::{alphanumeric, fingerprint},
    server::{Incoming, Shared, cut_connection, event_stream, preempt},
    stream::{self, StreamPlan},
};

const MODELS_PATH: &str = "/v1beta/models/";
const API_KEY_HEADER: &str = "x-goog-api-key";

/// The method after the model's `:` in the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Generate,
    Stream,
    Embed,
    BatchEmbed,
}

pub(crate) async fn handle(shared: &Shared, request: Incoming, call: CallGuard) -> Response {
    let route = request
        .path
        .split_once(MODELS_PATH)
        .and_then(|(_, rest)| rest.split_once(':'))
        .and_then(|(model, action)| {
            let action = match action {
                "generateContent" => Action::Generate,
                "streamGenerateContent" => Action::Stream,
                "embedContent" => Action::Embed,
                "batchEmbedContents" => Action::BatchEmbed,
                _ => return None,
            };
            Some((model.to_owned(), action))
        });
    let Some((model, action)) = route.filter(|_| request.method == Method::POST) else {
        return reject(
            call,
            GoogleError::unknown_path(request.method.as_str(), &request.path),
        );
    };
    if let Err(error) = authorize(&shared.options, &request) {
        return reject(call, error);
    }
    match action {
        Action::Generate | Action::Stream => {
            generate(shared, &request, &model, action == Action::Stream, call).await
        }
        Action::Embed | Action::BatchEmbed => {
            embed(
                shared,
                &request.body,
                &model,
                action == Action::BatchEmbed,
                call,
            )
            .await
        }
    }
}

async fn generate(
    shared: &Shared,
    request: &Incoming,
    model: &str,
    stream: bool,
    call: CallGuard,
) -> Response {
    let method = if stream {
        "streamGenerateContent"
    } else {
        "generateContent"
    };
    if stream && !query_has(request.query.as_deref(), "alt", "sse") {
        return reject(
            call,
            GoogleError::not_simulated(
                "alt",
                "streamGenerateContent without alt=sse (the JSON array form)",
            ),
        );
    }
    let parsed = match GenerateRequest::parse(&request.body, model) {
        Ok(parsed) => parsed,
        Err(error) => return reject(call, error),
    };
    if !serves(&shared.options.models, model) {
        return reject(call, GoogleError::model_not_found(model, method));
    }
    let directives = &parsed.directives;
    let timing = directives.timing(&shared.options.behaviour);
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        directives,
        timing.latency,
        &mut shutdown,
        |call, status, retry_after| reject(call, GoogleError::simulated(status, retry_after)),
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    let reply = Reply::generate(&parsed);
    let response_id = alphanumeric(
        fingerprint(&[
            &parsed.fingerprint.to_le_bytes(),
            &call.sequence().to_le_bytes(),
        ]),
        22,
    );
    if stream {
        let events: Vec<Bytes> = reply
            .events(&parsed, &response_id)
            .iter()
            .map(|event| Bytes::from(format!("data: {event}\r\n\r\n")))
            .collect();
        let plan = StreamPlan {
            ttft: timing.ttft,
            chunk_delay: timing.chunk_delay,
            stall_after: directives.stall_after,
            disconnect_after: directives.disconnect_after,
            unpaced_from: None,
        };
        return event_stream(stream::body(events, plan, call, shutdown));
    }
    if shutdown.sleep(timing.latency).await.is_err() {
        call.settle(CallOutcome::Aborted);
        return cut_connection("fake provider shut down before replying");
    }
    let body = reply.response(&parsed, &response_id);
    call.settle(CallOutcome::Completed);
    Json(body).into_response()
}

async fn embed(
    shared: &Shared,
    body: &serde_json::Value,
    model: &str,
    batch: bool,
    call: CallGuard,
) -> Response {
    let method = if batch {
        "batchEmbedContents"
    } else {
        "embedContent"
    };
    let parsed = match EmbedRequest::parse(body, model, batch) {
        Ok(parsed) => parsed,
        Err(error) => return reject(call, error),
    };
    if !serves(&shared.options.embedding_models, model) {
        return reject(call, GoogleError::model_not_found(model, method));
    }
    let latency = parsed.directives.timing(&shared.options.behaviour).latency;
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        &parsed.directives,
        latency,
        &mut shutdown,
        |call, status, retry_after| reject(call, GoogleError::simulated(status, retry_after)),
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
    let body = parsed.response();
    call.settle(CallOutcome::Completed);
    Json(body).into_response()
}

/// The key from `x-goog-api-key`, else from the `key` query parameter.
fn authorize(options: &FakeOptions, request: &Incoming) -> Result<(), GoogleError> {
    let Some(expected) = &options.api_key else {
        return Ok(());
    };
    let header = request
        .headers
        .get(API_KEY_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let query = request.query.as_deref().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "key")
            .map(|(_, v)| v.to_owned())
    });
    match header.or(query) {
        Some(key) if &key == expected => Ok(()),
        Some(_) => Err(GoogleError::invalid_key()),
        None => Err(GoogleError::unregistered_caller()),
    }
}

fn query_has(query: Option<&str>, key: &str, value: &str) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split_once('=') == Some((key, value)))
    })
}

/// An empty list serves every model id.
fn serves(models: &[String], model: &str) -> bool {
    models.is_empty() || models.iter().any(|served| served == model)
}

fn reject(call: CallGuard, error: GoogleError) -> Response {
    tracing::debug!(status = %error.code(), "fake Gemini rejected a request");
    call.settle(CallOutcome::Rejected);
    error.respond()
}
