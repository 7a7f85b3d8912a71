//! Relaying a provider's stream to the client as Server-Sent Events.
//!
//! Chunks go out as they arrive, byte for byte; the gateway only reads them (usage, finish
//! reasons, text for counting). Two chunks are touched: the last one, which gains the receipt
//! (and usage, if the client asked for it and the provider gave none), and a usage-only chunk
//! the client did not ask for, which is dropped (the gateway always asks providers for usage).
//!
//! Until the first token arrives nothing is sent, so a provider that fails or stays silent
//! early can still be replaced by a fallback, or yield a proper HTTP error. After that, a failure ends the stream with an OpenAI-shaped error event
//! rather than a hang; a provider that goes quiet for `upstream.idle_timeout_ms` counts as failed.
//! When the client goes away the response body is dropped, and with it the upstream request.
//!
//! A stream that ends before the model finished (the provider failed, the client left, the
//! server stopped) still gets a receipt, priced on the prompt and the tokens generated so far:
//! the provider bills those, so spend limits and token limits count them too.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Response, header};
use bytes::{BufMut, BytesMut};
use futures::{Stream, StreamExt};
use gateway_core::health::Outcome;
use gateway_core::receipt::{Receipt, ReceiptError};
use gateway_core::upstream::{ChunkStream, Provider, ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatRequest, ChunkView, Usage};
use gateway_core::{ApiError, tokens};
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::draining;
use crate::execute::AttemptGuard;
use crate::receipt_log::ReceiptLog;
use crate::receipts::{self, Routed};
use crate::state::AppState;
use crate::{unfinished, usage};

const DONE: &[u8] = b"data: [DONE]\n\n";

/// A stream whose first token has arrived; nothing has been sent to the client yet.
pub struct Opened {
    upstream: ChunkStream,
    /// The chunks up to and including the first with output (a role chunk may come first).
    buffered: VecDeque<Bytes>,
    ttft: Duration,
}

/// Calls the provider and waits for the stream's first token (its first chunk with output or a
/// finish reason), at most until `deadline`. Until then the client has received nothing, so
/// any failure here leaves the request free to fall back to another model.
pub async fn open(
    provider: &dyn Provider,
    request: ChatRequest,
    deadline: Instant,
) -> Result<Opened, ProviderError> {
    let started = Instant::now();
    let timed_out = || ProviderError::new(ProviderErrorKind::Timeout, "no first token in time");
    let mut upstream = tokio::time::timeout_at(deadline, provider.chat_stream(request))
        .await
        .map_err(|_| timed_out())??;
    let mut buffered = VecDeque::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, upstream.next()).await {
            Err(_) => return Err(timed_out()),
            Ok(None) => {
                return Err(ProviderError::new(
                    ProviderErrorKind::StreamInterrupted,
                    "the stream ended before its first token",
                ));
            }
            Ok(Some(chunk)) => chunk?,
        };
        let view: ChunkView = serde_json::from_slice(&chunk).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("a stream chunk is not valid JSON ({e})"),
            )
        })?;
        if let Some(error) = &view.error {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no details given");
            return Err(ProviderError::new(
                ProviderErrorKind::StreamInterrupted,
                format!("the provider reported an error: {message}"),
            ));
        }
        // OpenAI's first chunk carries the role and an empty `content`: not a token yet.
        let mut has_output = view.has_finish_reason();
        view.for_each_output_text(|text| has_output |= !text.is_empty());
        buffered.push_back(chunk);
        if has_output {
            return Ok(Opened {
                upstream,
                buffered,
                ttft: started.elapsed(),
            });
        }
    }
}

/// What the relay of an opened stream needs besides the routing.
pub struct RelayParts {
    pub opened: Opened,
    pub attempt: AttemptGuard,
    /// The client's request, read again only should the provider report no usage.
    pub request_body: Bytes,
    pub client_wants_usage: bool,
}

/// The SSE response relaying an opened stream. The attempt's health outcome and the receipt
/// are recorded when the stream ends.
pub fn respond(state: &AppState, routed: Routed, parts: RelayParts) -> Response<Body> {
    let RelayParts {
        opened,
        attempt,
        request_body,
        client_wants_usage,
    } = parts;
    let stream_header = routed.stream_header();
    let relay = Relay {
        upstream: opened.upstream,
        pending: opened.buffered,
        idle_timeout: state.upstream.idle_timeout(),
        provider_id: routed.model.provider().to_owned(),
        routed,
        request_body,
        client_wants_usage,
        out: VecDeque::new(),
        held: None,
        meta: None,
        usage: None,
        output: tokens::OutputText::default(),
        saw_finish: false,
        done: false,
        settled: false,
        settling: None,
        attempt: Some(attempt),
        ttft: opened.ttft,
        receipts: state.receipts.clone(),
        settling_tasks: state.settling.clone(),
        grace_over: state.grace_over.clone(),
    };
    let mut response = Response::new(Body::from_stream(relay.into_stream()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies in front of the gateway not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    receipts::insert_header(headers, &stream_header);
    response
}

/// A chunk kept back because it may be the last one, which carries the receipt.
struct Held {
    chunk: Bytes,
    has_usage: bool,
}

/// Identity of the stream's chunks, copied onto a chunk the gateway writes itself.
struct StreamMeta {
    id: Option<String>,
    created: Option<i64>,
    model: Option<String>,
}

struct Relay {
    upstream: ChunkStream,
    pending: VecDeque<Bytes>,
    idle_timeout: Duration,
    provider_id: String,
    routed: Routed,
    /// Read again only if the provider reports no usage.
    request_body: Bytes,
    client_wants_usage: bool,
    out: VecDeque<Bytes>,
    held: Option<Held>,
    meta: Option<StreamMeta>,
    usage: Option<Usage>,
    output: tokens::OutputText,
    saw_finish: bool,
    done: bool,
    /// The receipt is recorded, or its recording under way.
    settled: bool,
    /// The recording of an unfinished stream's receipt, awaited before the error event goes out.
    settling: Option<JoinHandle<()>>,
    /// Reports the provider's health when the stream ends; dropped unreported (neutral) when
    /// the client goes away first.
    attempt: Option<AttemptGuard>,
    ttft: Duration,
    receipts: Arc<ReceiptLog>,
    settling_tasks: TaskTracker,
    /// Fired when a stopping server's grace period is over: the stream ends then.
    grace_over: CancellationToken,
}

impl Relay {
    fn into_stream(self) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        futures::stream::unfold(self, |mut relay| async move {
            let bytes = relay.next_output().await?;
            Some((Ok(bytes), relay))
        })
    }

    async fn next_output(&mut self) -> Option<Bytes> {
        loop {
            if let Some(settling) = self.settling.take() {
                // Should the task fail, it has logged why; the client's error event goes out.
                let _ = settling.await;
            }
            if let Some(bytes) = self.out.pop_front() {
                return Some(bytes);
            }
            if self.done {
                return None;
            }
            let item = match self.pending.pop_front() {
                Some(chunk) => Some(Ok(chunk)),
                None => {
                    let next = tokio::select! {
                        biased;
                        next = tokio::time::timeout(self.idle_timeout, self.upstream.next()) => next,
                        () = self.grace_over.cancelled() => {
                            self.interrupt(draining::shutting_down());
                            continue;
                        }
                    };
                    match next {
                        Ok(item) => item,
                        Err(_) => {
                            self.fail(
                                ProviderError::new(
                                    ProviderErrorKind::Timeout,
                                    "the provider stopped sending",
                                )
                                .to_api_error(&self.provider_id),
                            );
                            continue;
                        }
                    }
                }
            };
            match item {
                Some(Ok(chunk)) => self.on_chunk(chunk),
                Some(Err(e)) => self.fail(e.to_api_error(&self.provider_id)),
                None => self.finish().await,
            }
        }
    }

    fn on_chunk(&mut self, chunk: Bytes) {
        let view: ChunkView = match serde_json::from_slice(&chunk) {
            Ok(view) => view,
            Err(e) => {
                return self.fail(
                    ProviderError::new(
                        ProviderErrorKind::InvalidResponse,
                        format!("a stream chunk is not valid JSON ({e})"),
                    )
                    .to_api_error(&self.provider_id),
                );
            }
        };
        if let Some(error) = &view.error {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no details given");
            return self.fail(
                ProviderError::new(
                    ProviderErrorKind::StreamInterrupted,
                    format!("the provider reported an error: {message}"),
                )
                .to_api_error(&self.provider_id),
            );
        }
        if self.meta.is_none() {
            self.meta = Some(StreamMeta {
                id: view.id.clone(),
                created: view.created,
                model: view.model.clone(),
            });
        }
        view.for_each_output_text(|text| self.output.push(text));
        // Usage the client can read where it looks (`usage`), as opposed to Groq's `x_groq`.
        let has_usage = view.usage.is_some();
        if let Some(usage) = view.reported_usage() {
            self.usage = Some(usage.clone());
        }
        let usage_only = view.choices.is_empty() && has_usage;
        if usage_only && !self.client_wants_usage {
            return;
        }
        let finishing = view.has_finish_reason();
        self.saw_finish |= finishing;
        if let Some(held) = self.held.take() {
            self.emit(&held.chunk);
        }
        if usage_only || finishing {
            self.held = Some(Held { chunk, has_usage });
        } else {
            self.emit(&chunk);
        }
    }

    async fn finish(&mut self) {
        if !self.saw_finish {
            return self.fail(
                ProviderError::new(
                    ProviderErrorKind::StreamInterrupted,
                    "the provider closed the stream before the model finished",
                )
                .to_api_error(&self.provider_id),
            );
        }
        // The prompt and the output stay until counted: a client that leaves meanwhile drops the
        // relay, which bills them as a stream cut short.
        let (usage, counted_by) =
            usage::reported_or_counted(self.usage.take(), &self.request_body, &self.output).await;
        self.done = true;
        self.settled = true;
        let receipt = self.routed.receipt(&usage, counted_by);
        if let Some(attempt) = self.attempt.take() {
            let total = attempt.elapsed();
            attempt.finish(Outcome::Success {
                ttft: Some(self.ttft),
                total,
                output_tokens: usage.completion_tokens,
            });
        }
        let usage_for_client = self.client_wants_usage.then_some(&usage);
        let last = match self.held.take() {
            Some(held) if held.has_usage || !self.client_wants_usage => {
                with_receipt(&held.chunk, &receipt)
            }
            Some(held) => {
                self.emit(&held.chunk);
                self.closing_chunk(usage_for_client, &receipt)
            }
            None => self.closing_chunk(usage_for_client, &receipt),
        };
        self.emit(&last);
        self.out.push_back(Bytes::from_static(DONE));
        tracing::info!(
            model = %receipt.model,
            cost_usd = receipt.cost_usd,
            latency_ms = receipt.latency_ms,
            "chat completion stream"
        );
        self.routed.context.record(&receipt, 200);
        self.receipts.push(receipt);
    }

    /// Ends the stream with an error event, the provider's failure. No `[DONE]` follows: the
    /// stream did not finish.
    fn fail(&mut self, error: ApiError) {
        tracing::warn!(provider = %self.provider_id, error = %error, "stream failed");
        if let Some(attempt) = self.attempt.take() {
            let total = attempt.elapsed();
            attempt.finish(Outcome::Failure { total });
        }
        self.interrupt(error);
    }

    /// Ends the stream with an error event that says nothing of the provider (its attempt is
    /// dropped unreported, if `fail` has not reported it).
    fn interrupt(&mut self, error: ApiError) {
        self.attempt = None;
        if !self.settled {
            self.settling = self.settle_unfinished(receipts::receipt_error(&error));
        }
        if let Some(held) = self.held.take() {
            self.emit(&held.chunk);
        }
        self.emit(error.to_json().as_bytes());
        self.done = true;
        self.upstream = Box::pin(futures::stream::empty());
    }

    /// Records the receipt of a stream that did not finish, priced on what was generated (see
    /// [`unfinished`]).
    fn settle_unfinished(&mut self, ended: ReceiptError) -> Option<JoinHandle<()>> {
        self.settled = true;
        let generated = unfinished::Generated {
            reported: self.usage.take(),
            request_body: std::mem::take(&mut self.request_body),
            output: std::mem::take(&mut self.output),
        };
        unfinished::settle(
            &self.settling_tasks,
            &self.receipts,
            self.routed.clone(),
            generated,
            ended,
        )
    }

    fn emit(&mut self, payload: &[u8]) {
        let mut event = BytesMut::with_capacity(payload.len() + 8);
        event.put_slice(b"data: ");
        event.put_slice(payload);
        event.put_slice(b"\n\n");
        self.out.push_back(event.freeze());
    }

    /// A chunk with no choices that carries the receipt, and usage when the client asked.
    fn closing_chunk(&self, usage: Option<&Usage>, receipt: &Receipt) -> Vec<u8> {
        let meta = self.meta.as_ref();
        let chunk = ClosingChunk {
            id: meta
                .and_then(|m| m.id.as_deref())
                .unwrap_or(&receipt.request_id),
            object: "chat.completion.chunk",
            created: meta.and_then(|m| m.created).unwrap_or_default(),
            model: meta
                .and_then(|m| m.model.as_deref())
                .unwrap_or(&receipt.model),
            choices: [],
            usage,
        };
        serde_json::to_vec(&receipts::WithReceipt {
            body: &chunk,
            receipt,
        })
        .unwrap_or_default()
    }
}

impl Drop for Relay {
    /// A client that leaves before the end: the provider has billed what it generated so far.
    fn drop(&mut self) {
        if !self.settled {
            // Detached: it records the receipt on its own.
            drop(self.settle_unfinished(unfinished::reason(&self.grace_over)));
        }
    }
}

#[derive(Serialize)]
struct ClosingChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
}

/// The same chunk with the receipt added.
fn with_receipt(chunk: &[u8], receipt: &Receipt) -> Vec<u8> {
    // The chunk parsed as a JSON object already, so the append cannot fail; keep it if it does.
    receipts::append_receipt(chunk, receipt).unwrap_or_else(|| chunk.to_vec())
}
