//! Fake LLM providers that speak a real provider's HTTP wire protocol.
//!
//! The gateway sits between clients and many LLM providers. Its tests need an upstream
//! that behaves exactly like a provider on the wire, yet is deterministic, free, offline
//! and controllable: slow first tokens, rate limits, streams that stall or break
//! mid-way. Demo mode (`--demo`) needs the same thing to run without provider accounts.
//! A third-party mock could not be made to misbehave precisely enough, so the project
//! owns this one.
//!
//! A [`FakeServer`] serves one [`Dialect`]. It is strict: requests a real provider would
//! refuse (unknown parameters, out-of-range values, malformed messages) are refused with
//! that provider's error shape, so gateway bugs surface here instead of in production.
//!
//! Replies are deterministic: the same request yields the same content, tool calls and
//! embeddings (only response ids and timestamps vary). Each request can steer the fake
//! through `[[fake key=value ...]]` directives embedded in its prompt text, which travel
//! through the gateway untouched; see the `directives` module for the keys.
//!
//! Every request is recorded with its outcome ([`FakeServer::calls`], or
//! `GET /__fake/calls` for out-of-process tests), so tests can assert what reached the
//! provider and whether the gateway cancelled it. The latest [`FakeOptions::keep_calls`] are
//! kept; the count of older ones is reported beside them.

mod anthropic;
mod aws;
mod bedrock;
mod calls;
mod cohere;
mod content;
mod directives;
mod gemini;
mod openai;
mod sagemaker;
mod server;
mod stream;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use axum::serve::ListenerExt as _;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

pub use calls::{CallOutcome, RecordedCall};

use calls::CallLog;
use server::{Shared, Shutdown};

/// How long [`FakeServer::shutdown`] waits for open connections before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The wire protocol a [`FakeServer`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// OpenAI Chat Completions, Embeddings and Models, under any path prefix.
    OpenAi,
    /// Groq's OpenAI-compatible API (`/openai/v1/...`): `n` must be 1, Groq's own
    /// parameters (`reasoning_format`, `service_tier`, ...), streamed usage also in
    /// `x_groq.usage`.
    Groq,
    /// Together AI's OpenAI-compatible API (`/v1/...`): `stop` is a list, `logprobs` a
    /// count, `top_k`/`repetition_penalty`/`min_p`, no `stream_options` (streams always
    /// end with usage).
    Together,
    /// Mistral's API (`/v1/...`): `random_seed`, `tool_choice: "any"`, temperature up to
    /// 1.5, closed message objects, no `stream_options` (streams always end with usage),
    /// and 422 `{"object": "error", ...}` replies to schema violations.
    Mistral,
    /// Anthropic's Messages API (`POST /v1/messages`, `GET /v1/models`, at the root):
    /// `x-api-key` and `anthropic-version` headers, strict validation against Anthropic's
    /// spec, `{"type": "error", "error": {...}}` bodies (529 `overloaded_error`), and
    /// named SSE events for streams.
    Anthropic,
    /// Cohere's v2 API (`/v2/chat` JSON or SSE named events, `/v2/embed`): closed request
    /// objects, `p`/`k`, `REQUIRED`/`NONE` tool choice, `{"id", "message"}` errors.
    Cohere,
    /// Google Gemini's native API (`/v1beta/models/{model}:generateContent`,
    /// `:streamGenerateContent?alt=sse`, `:embedContent`, `:batchEmbedContents`): key in
    /// `x-goog-api-key` (or `?key=`), camelCase bodies checked against the published schema,
    /// Google's `{"error": {"code", "message", "status"}}` replies.
    Gemini,
    /// AWS Bedrock Runtime as the AWS SDK calls it: `POST /model/{modelId}/converse`,
    /// `/converse-stream` (AWS event-stream framing) and `/invoke` (Titan Text
    /// Embeddings). Requests must carry a SigV4 `Authorization` header whose access key id
    /// is [`FakeOptions::api_key`]; errors are AWS JSON errors with `x-amzn-errortype`.
    Bedrock,
    /// Amazon SageMaker Runtime: `POST /endpoints/{name}/invocations` and
    /// `/invocations-response-stream` for a container that speaks OpenAI's chat schema
    /// (LMI, vLLM, TGI); the stream's payload parts carry SSE lines, cut across parts.
    /// Endpoint names are [`FakeOptions::models`]; SigV4 as for Bedrock.
    Sagemaker,
}

/// Calls a fake keeps for inspection unless told otherwise.
pub const DEFAULT_KEEP_CALLS: usize = 10_000;

/// What a fake serves and how it behaves by default.
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// When set, every request must carry `Authorization: Bearer <key>` (AWS dialects: a
    /// SigV4 `Authorization` header signed with this access key id).
    pub api_key: Option<String>,
    /// Chat model ids served. Empty means any model id is accepted.
    pub models: Vec<String>,
    /// Embedding model ids served. Empty means any model id is accepted.
    pub embedding_models: Vec<String>,
    /// Defaults for every request; per-request directives override them.
    pub behaviour: Behaviour,
    /// The latest calls kept for [`FakeServer::calls`] and `GET /__fake/calls`; older ones
    /// are only counted. Zero keeps none.
    pub keep_calls: usize,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            api_key: None,
            models: Vec::new(),
            embedding_models: Vec::new(),
            behaviour: Behaviour::default(),
            keep_calls: DEFAULT_KEEP_CALLS,
        }
    }
}

/// Timing applied to replies unless a request's directives say otherwise.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// Delay before a non-streamed response (including simulated errors).
    pub latency: Duration,
    /// Delay before the first event of a streamed response.
    pub ttft: Duration,
    /// Delay between consecutive events of a streamed response.
    pub chunk_delay: Duration,
}

/// A running fake provider. Stops when [`shutdown`](Self::shutdown) is awaited or when
/// dropped (then in the background).
pub struct FakeServer {
    addr: SocketAddr,
    dialect: Dialect,
    log: CallLog,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Binds `bind` (port 0 picks a free port) and starts serving in the background.
    pub async fn start(
        dialect: Dialect,
        options: FakeOptions,
        bind: SocketAddr,
    ) -> io::Result<FakeServer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        // Stream events are small and latency-sensitive; Nagle would batch them.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "fake provider could not set TCP_NODELAY");
            }
        });
        let (stop, stop_rx) = watch::channel(false);
        let log = CallLog::new(options.keep_calls);
        let shared = Arc::new(Shared {
            dialect,
            options,
            log: log.clone(),
            shutdown: Shutdown::new(stop_rx.clone()),
        });
        let mut signal = Shutdown::new(stop_rx);
        let serve = axum::serve(listener, server::router(shared))
            .with_graceful_shutdown(async move { signal.triggered().await });
        let task = tokio::spawn(async move {
            if let Err(error) = serve.await {
                tracing::warn!(%error, "fake provider stopped with an error");
            }
        });
        tracing::debug!(%addr, ?dialect, "fake provider listening");
        Ok(FakeServer {
            addr,
            dialect,
            log,
            stop,
            task: Some(task),
        })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL as the emulated provider's clients take it: `http://127.0.0.1:4100/v1` for
    /// OpenAI-style dialects, the bare origin for Anthropic and Cohere (whose clients append
    /// `/v1/messages` and `/v2/chat`). An unspecified bind address (`0.0.0.0`, `::`) is
    /// reported as loopback.
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        match self.dialect {
            Dialect::Anthropic | Dialect::Cohere => format!("http://{addr}"),
            _ => format!("http://{addr}/v1"),
        }
    }

    /// The requests received so far (except `/__fake/` control requests), in order: the
    /// latest [`FakeOptions::keep_calls`] of them.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.log.snapshot().calls
    }

    /// Stops accepting connections, ends hanging and stalled replies (their connections
    /// are cut), and waits for open connections to close.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        let Some(mut task) = self.task.take() else {
            return;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            tracing::warn!(addr = %self.addr, "fake provider did not stop in time; aborting it");
            task.abort();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
