//! HTTP plumbing shared by all dialects: reading and recording each request, the
//! `/__fake/` control endpoints, and the shutdown signal that ends deliberate hangs.
//!
//! Routing is by path suffix rather than an axum route table because the same fake is
//! mounted under whatever prefix the emulated provider uses (`/v1`, `/openai/v1`, none).

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::{
    Dialect, FakeOptions, anthropic, bedrock,
    calls::{CallGuard, CallLog, CallOutcome, RecordedCall},
    cohere,
    directives::Directives,
    gemini, openai, sagemaker,
};

/// Requests larger than this are recorded and validated as if they had no body.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const CONTROL_PREFIX: &str = "/__fake/";
const CALLS_PATH: &str = "/__fake/calls";

/// State every handler sees.
pub(crate) struct Shared {
    pub dialect: Dialect,
    pub options: FakeOptions,
    pub log: CallLog,
    pub shutdown: Shutdown,
}

/// A request as the dialects see it, already recorded.
pub(crate) struct Incoming {
    pub method: Method,
    pub path: String,
    pub authorization: Option<String>,
    /// All request headers, for protocols that authenticate or version by other headers.
    pub headers: HeaderMap,
    /// The query string, if any (without `?`).
    pub query: Option<String>,
    /// The parsed JSON body; `Null` when absent or not JSON.
    pub body: Value,
}

/// Resolves once the server is shutting down (or has been dropped).
#[derive(Clone, Debug)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

/// The server began shutting down while a reply was waiting.
#[derive(Debug)]
pub(crate) struct ShuttingDown;

impl Shutdown {
    pub(crate) fn new(receiver: watch::Receiver<bool>) -> Self {
        Self(receiver)
    }

    pub(crate) async fn triggered(&mut self) {
        // An error means the sender is gone, which is a shutdown too.
        let _ = self.0.wait_for(|&stopping| stopping).await;
    }

    /// Sleeps for `duration` unless the server starts shutting down first.
    pub(crate) async fn sleep(&mut self, duration: Duration) -> Result<(), ShuttingDown> {
        if duration.is_zero() {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            () = self.triggered() => Err(ShuttingDown),
        }
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    if path.starts_with(CONTROL_PREFIX) {
        return control(&shared, &parts.method, &path);
    }
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(error) => {
            tracing::debug!(%error, %path, "fake provider could not read a request body");
            Value::Null
        }
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    tracing::debug!(method = %parts.method, %path, "fake provider request");
    let call = shared.log.record(|| {
        RecordedCall::new(
            parts.method.as_str(),
            &path,
            authorization.clone(),
            body.clone(),
        )
    });
    let incoming = Incoming {
        method: parts.method,
        path,
        authorization,
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    match shared.dialect {
        Dialect::OpenAi | Dialect::Groq | Dialect::Together | Dialect::Mistral => {
            openai::handle(&shared, incoming, call).await
        }
        Dialect::Anthropic => anthropic::handle(&shared, incoming, call).await,
        Dialect::Cohere => cohere::handle(&shared, incoming, call).await,
        Dialect::Gemini => gemini::handle(&shared, incoming, call).await,
        Dialect::Bedrock => bedrock::handle(&shared, incoming, call).await,
        Dialect::Sagemaker => sagemaker::handle(&shared, incoming, call).await,
    }
}

/// Test-facing endpoints; never recorded and never authenticated.
fn control(shared: &Shared, method: &Method, path: &str) -> Response {
    if path != CALLS_PATH {
        return control_error(
            StatusCode::NOT_FOUND,
            format!("Unknown control path {path}"),
        );
    }
    if method != Method::GET {
        let mut response = control_error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{CALLS_PATH} only supports GET"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    Json(shared.log.snapshot()).into_response()
}

fn control_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": { "message": message } }))).into_response()
}

/// A response whose body fails at once, making hyper cut the connection instead of
/// answering: what a client sees when a provider dies mid-request.
pub(crate) fn cut_connection(reason: &'static str) -> Response {
    let failure = futures::stream::once(async move {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::other(reason))
    });
    Response::new(Body::from_stream(failure))
}

/// Answers in place of a reply when the directives ask for it: `hang` never answers (until
/// shutdown cuts the connection); `status` answers, after the request's latency, with the error
/// `simulated` writes in the dialect's own shape. Otherwise hands the call back.
pub(crate) async fn preempt(
    call: CallGuard,
    directives: &Directives,
    latency: Duration,
    shutdown: &mut Shutdown,
    simulated: impl FnOnce(CallGuard, u16, Option<u64>) -> Response,
) -> Result<CallGuard, Response> {
    if directives.hang {
        shutdown.triggered().await;
        call.settle(CallOutcome::Aborted);
        return Err(cut_connection("fake provider shut down during a hang"));
    }
    if let Some(status) = directives.status {
        if shutdown.sleep(latency).await.is_err() {
            call.settle(CallOutcome::Aborted);
            return Err(cut_connection("fake provider shut down before replying"));
        }
        return Err(simulated(call, status, directives.retry_after));
    }
    Ok(call)
}

/// A streamed reply of Server-Sent Events.
pub(crate) fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
