//! AWS Bedrock Runtime as the AWS SDK calls it: `POST /model/{modelId}/converse`,
//! `/converse-stream` and `/invoke` (Titan Text Embeddings).
//!
//! Each request: the path names the operation and model, SigV4 is checked, the body is
//! validated as Bedrock validates it ([`converse`], [`titan`]), the model must be served,
//! directives apply, then the reply ([`reply`]) goes out as JSON or as AWS event-stream
//! frames. Anything else is refused with an AWS error, never answered by guesswork.

mod converse;
mod reply;
mod titan;

use axum::{
    Json,
    http::Method,
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use self::{converse::Converse, reply::Reply, titan::TitanRequest};
use crate::{
    aws::{AwsError, check_sigv4, event_frame, event_stream_response, reject, split_path},
    calls::{CallGuard, CallOutcome},
    server::{Incoming, Shared, cut_connection, preempt},
    stream::{self, StreamPlan},
};

/// The SigV4 signing name of Bedrock Runtime.
const SERVICE: &str = "bedrock";

pub(crate) async fn handle(shared: &Shared, request: Incoming, call: CallGuard) -> Response {
    let Some((model, operation)) = split_path(&request.path, "/model/") else {
        return reject(call, unknown_operation(&request));
    };
    if !matches!(operation, "converse" | "converse-stream" | "invoke") {
        return reject(call, unknown_operation(&request));
    }
    // Neither service's operations take a query string.
    if request.method != Method::POST || request.query.is_some() {
        return reject(call, unknown_operation(&request));
    }
    if let Err(error) = check_sigv4(&request.headers, shared.options.api_key.as_deref(), SERVICE) {
        return reject(call, error);
    }
    let served = if operation == "invoke" {
        &shared.options.embedding_models
    } else {
        &shared.options.models
    };
    if !served.is_empty() && !served.contains(&model) {
        return reject(
            call,
            AwsError::validation(
                "ValidationException",
                "The provided model identifier is invalid.",
            ),
        );
    }
    match operation {
        "invoke" => invoke(shared, &model, &request, call).await,
        _ => {
            converse(
                shared,
                &model,
                &request,
                call,
                operation == "converse-stream",
            )
            .await
        }
    }
}

fn unknown_operation(request: &Incoming) -> AwsError {
    AwsError::new(
        404,
        "UnknownOperationException",
        format!(
            "The fake Bedrock Runtime does not implement {} {}",
            request.method, request.path
        ),
    )
}

async fn converse(
    shared: &Shared,
    model: &str,
    request: &Incoming,
    call: CallGuard,
    stream: bool,
) -> Response {
    let converse = match Converse::parse(model, &request.body) {
        Ok(converse) => converse,
        Err(error) => return reject(call, error),
    };
    let timing = converse.directives.timing(&shared.options.behaviour);
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        &converse.directives,
        timing.latency,
        &mut shutdown,
        |call, status, retry_after| {
            let (code, message) = simulated(status);
            let mut error = AwsError::new(status, code, message);
            error.retry_after = retry_after;
            reject(call, error)
        },
    )
    .await
    {
        Ok(call) => call,
        Err(response) => return response,
    };
    let reply = Reply::generate(&converse);
    if stream {
        let events: Vec<Bytes> = reply
            .events()
            .into_iter()
            .map(|(event, payload)| event_frame(event, "application/json", payload.to_string()))
            .collect();
        let unpaced_from = reply.events().iter().position(|(e, _)| *e == "messageStop");
        let plan = StreamPlan {
            ttft: timing.ttft,
            chunk_delay: timing.chunk_delay,
            stall_after: converse.directives.stall_after,
            disconnect_after: converse.directives.disconnect_after,
            unpaced_from,
        };
        return event_stream_response(stream::body(events, plan, call, shutdown));
    }
    if shutdown.sleep(timing.latency).await.is_err() {
        call.settle(CallOutcome::Aborted);
        return cut_connection("fake provider shut down before replying");
    }
    call.settle(CallOutcome::Completed);
    Json(reply.converse()).into_response()
}

async fn invoke(shared: &Shared, model: &str, request: &Incoming, call: CallGuard) -> Response {
    let titan = match TitanRequest::parse(model, &request.body) {
        Ok(titan) => titan,
        Err(error) => return reject(call, error),
    };
    let latency = titan.directives.timing(&shared.options.behaviour).latency;
    let mut shutdown = shared.shutdown.clone();
    let call = match preempt(
        call,
        &titan.directives,
        latency,
        &mut shutdown,
        |call, status, retry_after| {
            let (code, message) = simulated(status);
            let mut error = AwsError::new(status, code, message);
            error.retry_after = retry_after;
            reject(call, error)
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
    call.settle(CallOutcome::Completed);
    Json(titan.answer()).into_response()
}

/// Bedrock's error for a status, with its documented message.
fn simulated(status: u16) -> (&'static str, &'static str) {
    match status {
        429 => (
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        400 => ("ValidationException", "Simulated validation error."),
        403 => (
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        404 => (
            "ResourceNotFoundException",
            "The specified resource was not found.",
        ),
        408 => (
            "ModelTimeoutException",
            "The request took too long to process.",
        ),
        424 => (
            "ModelErrorException",
            "The model failed to process the request.",
        ),
        503 => (
            "ServiceUnavailableException",
            "The service is temporarily unable to handle the request.",
        ),
        _ => (
            "InternalServerException",
            "Simulated internal server error.",
        ),
    }
}
