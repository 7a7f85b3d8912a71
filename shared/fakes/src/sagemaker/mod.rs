//! Amazon SageMaker Runtime as the AWS SDK calls it, in front of a container that speaks
//! OpenAI's chat schema (LMI, vLLM, TGI): `POST /endpoints/{name}/invocations` and
//! `/invocations-response-stream`.
//!
//! The container part is the OpenAI fake's own validation and content
//! ([`ContainerChat`]); what this module adds is SageMaker's envelope: endpoint names, SigV4,
//! a container's refusal wrapped as a `ModelError` (424, with the container's status and
//! body), and streams as event-stream `PayloadPart`s. Each SSE event is cut in two parts
//! at an arbitrary byte, as SageMaker's buffers cut them, so clients must reassemble lines.

use axum::{
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde_json::json;

use crate::{
    aws::{AwsError, check_sigv4, event_frame, event_stream_response, reject, split_path},
    calls::{CallGuard, CallOutcome},
    openai::{ContainerAnswer, ContainerChat},
    server::{Incoming, Shared, cut_connection},
    stream::{self, StreamPlan},
};

/// The SigV4 signing name of SageMaker Runtime.
const SERVICE: &str = "sagemaker";

pub(crate) async fn handle(shared: &Shared, request: Incoming, call: CallGuard) -> Response {
    let Some((endpoint, operation)) = split_path(&request.path, "/endpoints/") else {
        return reject(call, unknown_operation(&request));
    };
    let stream = match operation {
        "invocations" => false,
        "invocations-response-stream" => true,
        _ => return reject(call, unknown_operation(&request)),
    };
    // Neither service's operations take a query string.
    if request.method != Method::POST || request.query.is_some() {
        return reject(call, unknown_operation(&request));
    }
    if let Err(error) = check_sigv4(&request.headers, shared.options.api_key.as_deref(), SERVICE) {
        return reject(call, error);
    }
    let served = &shared.options.models;
    if !served.is_empty() && !served.contains(&endpoint) {
        return reject(
            call,
            AwsError::validation(
                "ValidationError",
                format!("Endpoint {endpoint} of account 000000000000 not found."),
            ),
        );
    }
    let chat = match ContainerChat::parse(&request.body, &endpoint) {
        Ok(chat) => chat,
        Err(refusal) => return model_error(call, *refusal).await,
    };
    if chat.stream() != stream {
        let message = if stream {
            "InvokeEndpointWithResponseStream needs `\"stream\": true` in the body"
        } else {
            "InvokeEndpoint cannot stream: `\"stream\": true` needs InvokeEndpointWithResponseStream"
        };
        return reject(call, AwsError::validation("ValidationError", message));
    }
    let directives = chat.directives();
    let timing = directives.timing(&shared.options.behaviour);
    let mut shutdown = shared.shutdown.clone();
    if directives.hang {
        shutdown.triggered().await;
        call.settle(CallOutcome::Aborted);
        return cut_connection("fake provider shut down during a hang");
    }
    if let Some(status) = directives.status {
        if shutdown.sleep(timing.latency).await.is_err() {
            call.settle(CallOutcome::Aborted);
            return cut_connection("fake provider shut down before replying");
        }
        let (code, message) = simulated(status);
        let mut error = AwsError::new(status, code, message);
        error.retry_after = directives.retry_after;
        return reject(call, error);
    }
    match chat.answer(call.sequence()) {
        ContainerAnswer::Chunks(chunks) => {
            let mut parts = Vec::new();
            let mut unpaced_from = None;
            let events = chunks
                .iter()
                .map(|chunk| format!("data: {chunk}\n\n"))
                .chain(["data: [DONE]\n\n".to_owned()]);
            for event in events {
                if unpaced_from.is_none() && event.contains(r#""finish_reason":""#) {
                    unpaced_from = Some(parts.len());
                }
                let bytes = event.into_bytes();
                let (first, second) = bytes.split_at(bytes.len() / 2 + 1);
                for part in [first, second] {
                    if !part.is_empty() {
                        parts.push(payload_part(part));
                    }
                }
            }
            let plan = StreamPlan {
                ttft: timing.ttft,
                chunk_delay: timing.chunk_delay,
                stall_after: directives.stall_after,
                disconnect_after: directives.disconnect_after,
                unpaced_from,
            };
            event_stream_response(stream::body(parts, plan, call, shutdown))
        }
        ContainerAnswer::Completion(completion) => {
            if shutdown.sleep(timing.latency).await.is_err() {
                call.settle(CallOutcome::Aborted);
                return cut_connection("fake provider shut down before replying");
            }
            call.settle(CallOutcome::Completed);
            (
                [(header::CONTENT_TYPE, "application/json")],
                completion.to_string(),
            )
                .into_response()
        }
    }
}

fn payload_part(bytes: &[u8]) -> Bytes {
    event_frame(
        "PayloadPart",
        "application/octet-stream",
        Bytes::copy_from_slice(bytes),
    )
}

fn unknown_operation(request: &Incoming) -> AwsError {
    AwsError::new(
        404,
        "UnknownOperationException",
        format!(
            "The fake SageMaker Runtime does not implement {} {}",
            request.method, request.path
        ),
    )
}

/// The container refused the request: SageMaker answers 424 `ModelError` carrying the
/// container's own status and body.
async fn model_error(call: CallGuard, refusal: Response) -> Response {
    let status = refusal.status().as_u16();
    let body = axum::body::to_bytes(refusal.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let original = String::from_utf8_lossy(&body).into_owned();
    call.settle(CallOutcome::Rejected);
    let mut response = (
        StatusCode::FAILED_DEPENDENCY,
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "message": format!("Received client error ({status}) from primary with message \"{original}\"."),
            "OriginalStatusCode": status,
            "OriginalMessage": original,
            "LogStreamArn": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/fake",
        })
        .to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static("ModelError"));
    response
}

/// SageMaker's error for a status.
fn simulated(status: u16) -> (&'static str, &'static str) {
    match status {
        429 => ("ThrottlingException", "Rate exceeded"),
        400 => ("ValidationError", "Simulated validation error."),
        404 => ("ValidationError", "Endpoint not found."),
        424 => (
            "ModelError",
            "Received server error (500) from primary with message \"simulated\".",
        ),
        503 => (
            "ServiceUnavailable",
            "The service is unavailable. Try again later.",
        ),
        _ => ("InternalFailure", "Simulated internal failure."),
    }
}
