//! A stand-in for the AWS Lambda Runtime API (version 2018-06-01), so the functions' real
//! Lambda code path (`lambda_runtime` polling for events, `lambda_http` translating Function
//! URL events, response streaming) runs without AWS.
//!
//! It implements what a function calls and nothing else, strictly:
//! - `GET  /2018-06-01/runtime/invocation/next`: the next queued event, held until one is
//!   queued, with the request id, deadline, function ARN and trace id headers;
//! - `POST /2018-06-01/runtime/invocation/{id}/response`: buffered, or streamed when the
//!   function says `Lambda-Runtime-Function-Response-Mode: streaming`; every body frame is
//!   recorded with its arrival time, and trailers (mid-stream errors) are kept;
//! - `POST /2018-06-01/runtime/invocation/{id}/error` and `POST /2018-06-01/runtime/init/error`.
//!
//! Anything else is answered 404, a response for an unknown or already answered request id 400,
//! and both are recorded as violations that tests assert to be absent. What it cannot prove:
//! Lambda's own limits (payload sizes, timeouts, the 6 MB buffered cap), the Function URL's
//! translation of its HTTP request into the event (the events in `events/` stand for it), and
//! the frontend's handling of the streamed prelude.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::Notify;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:under-test";
/// How long an invocation may run, as the deadline header says.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One body frame of a response, and when it arrived after the event was handed out.
#[derive(Debug, Clone)]
pub struct Frame {
    pub after: Duration,
    pub data: Bytes,
}

#[derive(Debug, Clone)]
pub struct FunctionResponse {
    /// Sent with `Lambda-Runtime-Function-Response-Mode: streaming`.
    pub streaming: bool,
    pub content_type: Option<String>,
    pub frames: Vec<Frame>,
    pub trailers: Option<HeaderMap>,
}

impl FunctionResponse {
    pub fn body(&self) -> Vec<u8> {
        self.frames
            .iter()
            .flat_map(|f| f.data.iter().copied())
            .collect()
    }

    /// A streamed HTTP response (`application/vnd.awslambda.http-integration-response`): the
    /// prelude JSON (status, headers, cookies), eight NUL bytes, then the body.
    pub fn http_prelude(&self) -> Option<(Value, Vec<u8>)> {
        let body = self.body();
        let at = body.windows(8).position(|w| w == [0u8; 8])?;
        let prelude = serde_json::from_slice(&body[..at]).ok()?;
        Some((prelude, body[at + 8..].to_vec()))
    }

    /// A buffered response's JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body()).ok()
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Response(FunctionResponse),
    Error {
        error_type: Option<String>,
        body: Value,
    },
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, Value)>,
    /// Handed out by `/next` and not yet answered, with when.
    in_flight: HashMap<String, Instant>,
    outcomes: HashMap<String, Outcome>,
    first_next: Option<Instant>,
    init_errors: Vec<Value>,
    violations: Vec<String>,
    sequence: u64,
}

struct Shared {
    inner: Mutex<Inner>,
    queued: Notify,
    answered: Notify,
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut inner)
    }
}

pub struct FakeRuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeRuntimeApi {
    pub async fn start() -> std::io::Result<FakeRuntimeApi> {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            queued: Notify::new(),
            answered: Notify::new(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .fallback(unknown)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeRuntimeApi { addr, shared, task })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`: host and port, no scheme.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event; returns its request id.
    pub fn enqueue(&self, event: Value) -> String {
        let id = self.shared.with(|inner| {
            inner.sequence += 1;
            let id = format!("00000000-0000-4000-8000-{:012}", inner.sequence);
            inner.queue.push_back((id.clone(), event));
            id
        });
        self.shared.queued.notify_waiters();
        self.shared.queued.notify_one();
        id
    }

    /// The outcome of the invocation `id`, once the function has answered it completely.
    pub async fn outcome(&self, id: &str, timeout: Duration) -> Option<Outcome> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let answered = self.shared.answered.notified();
            if let Some(outcome) = self.shared.with(|inner| inner.outcomes.get(id).cloned()) {
                return Some(outcome);
            }
            if tokio::time::timeout_at(deadline, answered).await.is_err() {
                return None;
            }
        }
    }

    /// When the function first asked for an event: the end of its initialisation.
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.with(|inner| inner.first_next)
    }

    /// Waits until the function asks for its first event.
    pub async fn wait_ready(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(at) = self.first_next() {
                return Some(at);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        None
    }

    pub fn init_errors(&self) -> Vec<Value> {
        self.shared.with(|inner| inner.init_errors.clone())
    }

    /// Calls the double does not implement or could not accept; empty in a passing test.
    pub fn violations(&self) -> Vec<String> {
        self.shared.with(|inner| inner.violations.clone())
    }
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    loop {
        let queued = shared.queued.notified();
        let event = shared.with(|inner| {
            inner.first_next.get_or_insert_with(Instant::now);
            let event = inner.queue.pop_front();
            if let Some((id, _)) = &event {
                inner.in_flight.insert(id.clone(), Instant::now());
            }
            event
        });
        if let Some((id, event)) = event {
            let deadline = std::time::SystemTime::now() + INVOCATION_TIMEOUT;
            let deadline_ms = deadline
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            return (
                [
                    ("content-type", "application/json".to_owned()),
                    ("lambda-runtime-aws-request-id", id),
                    ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        FUNCTION_ARN.to_owned(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
                    ),
                ],
                event.to_string(),
            )
                .into_response();
        }
        queued.await;
    }
}

fn refuse(shared: &Shared, status: StatusCode, error_type: &str, message: String) -> Response {
    shared.with(|inner| inner.violations.push(format!("{status}: {message}")));
    (
        status,
        axum::Json(json!({ "errorMessage": message, "errorType": error_type })),
    )
        .into_response()
}

/// Takes `id` out of the in-flight set: when it was handed out, if it was.
fn claim(shared: &Shared, id: &str) -> Option<Instant> {
    shared.with(|inner| inner.in_flight.remove(id))
}

fn not_in_flight(shared: &Shared, id: &str) -> Response {
    refuse(
        shared,
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        format!("no invocation {id} is waiting for an answer (unknown, or answered already)"),
    )
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(handed_at) = claim(&shared, &id) else {
        return not_in_flight(&shared, &id);
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mode = header("lambda-runtime-function-response-mode");
    let streaming = match mode.as_deref() {
        None => false,
        Some("streaming") => true,
        Some(other) => {
            return refuse(
                &shared,
                StatusCode::BAD_REQUEST,
                "InvalidResponseMode",
                format!("unknown Lambda-Runtime-Function-Response-Mode {other:?}"),
            );
        }
    };
    let mut frames = Vec::new();
    let mut trailers = None;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                return refuse(
                    &shared,
                    StatusCode::BAD_REQUEST,
                    "BrokenBody",
                    format!("the response body of {id} broke off: {e}"),
                );
            }
        };
        match frame.into_data() {
            Ok(data) => frames.push(Frame {
                after: handed_at.elapsed(),
                data,
            }),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let outcome = Outcome::Response(FunctionResponse {
        streaming,
        content_type: header("content-type"),
        frames,
        trailers,
    });
    shared.with(|inner| inner.outcomes.insert(id, outcome));
    shared.answered.notify_waiters();
    accepted()
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if claim(&shared, &id).is_none() {
        return not_in_flight(&shared, &id);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "InvalidErrorBody",
            format!("the error report of {id} is not JSON"),
        );
    };
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.with(|inner| {
        inner
            .outcomes
            .insert(id, Outcome::Error { error_type, body })
    });
    shared.answered.notify_waiters();
    accepted()
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    shared.with(|inner| inner.init_errors.push(body));
    accepted()
}

async fn unknown(State(shared): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    let message = format!(
        "{} {} is not part of the Runtime API this double implements",
        request.method(),
        request.uri()
    );
    refuse(&shared, StatusCode::NOT_FOUND, "UnknownRequest", message)
}
