//! Anthropic's stream events → OpenAI `chat.completion.chunk`s.
//!
//! Anthropic numbers content blocks (text, tool use, thinking) in one sequence; OpenAI numbers
//! tool calls apart, from 0. Usage arrives in two halves: prompt tokens in `message_start`, the
//! final output count in `message_delta`; the usage chunk is written only once both are in,
//! at `message_stop`, so streamed usage is never undercounted. A stream that ends without
//! `message_stop`, or sends an `error` event, ends in an error, never silently.
//!
//! The `role` chunk goes out with the first chunk that has something in it, not at
//! `message_start`: an `error` event (Anthropic's mid-stream `overloaded_error`) that comes
//! before any output then reaches the gateway before anything reached the client, so the
//! request can still fail over like a 529 answer.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use eventsource_stream::Event;
use futures::{Stream, StreamExt};
use gateway_core::upstream::{ChunkStream, ProviderError, ProviderErrorKind};
use serde::Deserialize;
use serde_json::Value;

use super::errors::error_event;
use super::response::{
    AnthropicUsage, anthropic_stop_reason_to_finish_reason, anthropic_usage_to_openai_usage,
};
use crate::translate::ChunkWriter;

#[derive(Deserialize)]
struct MessageStart {
    message: StartedMessage,
}

#[derive(Deserialize)]
struct StartedMessage {
    id: String,
    model: String,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct BlockStart {
    index: u32,
    content_block: StartedBlock,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartedBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct BlockDelta {
    index: u32,
    delta: Delta,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    /// Thinking, signatures and citations: not part of an OpenAI answer.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct BlockStop {
    index: u32,
}

#[derive(Deserialize)]
struct MessageDelta {
    delta: MessageDeltaBody,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// What an open content block turns into.
enum OpenBlock {
    Text,
    /// OpenAI's tool-call index, and whether any argument text was sent yet.
    ToolCall {
        index: u32,
        sent_arguments: bool,
    },
    Ignored,
}

/// Turns Anthropic's events, in order, into OpenAI chunks.
pub struct StreamTranslator {
    provider: String,
    writer: Option<ChunkWriter>,
    blocks: HashMap<u32, OpenBlock>,
    tool_calls: u32,
    role_sent: bool,
    usage: Option<AnthropicUsage>,
    stop_reason: Option<String>,
    finished: bool,
}

impl StreamTranslator {
    pub fn new(provider: impl Into<String>) -> Self {
        StreamTranslator {
            provider: provider.into(),
            writer: None,
            blocks: HashMap::new(),
            tool_calls: 0,
            role_sent: false,
            usage: None,
            stop_reason: None,
            finished: false,
        }
    }

    /// Whether `message_stop` arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The chunks one event becomes (often none); the first non-empty batch starts with the
    /// `role` chunk.
    pub fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<Bytes>, ProviderError> {
        let mut chunks = self.translate(event, data)?;
        if !chunks.is_empty()
            && !self.role_sent
            && let Some(writer) = &self.writer
        {
            chunks.insert(0, writer.role());
            self.role_sent = true;
        }
        Ok(chunks)
    }

    fn translate(&mut self, event: &str, data: &str) -> Result<Vec<Bytes>, ProviderError> {
        match event {
            "message_start" => {
                let start: MessageStart = self.parse(event, data)?;
                self.writer = Some(ChunkWriter::new(
                    Some(start.message.id),
                    start.message.model,
                ));
                self.usage = start.message.usage;
                Ok(Vec::new())
            }
            "content_block_start" => {
                let start: BlockStart = self.parse(event, data)?;
                self.block_start(start)
            }
            "content_block_delta" => {
                let delta: BlockDelta = self.parse(event, data)?;
                self.block_delta(delta)
            }
            "content_block_stop" => {
                let stop: BlockStop = self.parse(event, data)?;
                self.block_stop(stop.index)
            }
            "message_delta" => {
                let delta: MessageDelta = self.parse(event, data)?;
                if delta.delta.stop_reason.is_some() {
                    self.stop_reason = delta.delta.stop_reason;
                }
                if let Some(later) = delta.usage {
                    self.usage
                        .get_or_insert_with(AnthropicUsage::default)
                        .update(&later);
                }
                Ok(Vec::new())
            }
            "message_stop" => {
                let writer = self.writer()?;
                let finish = anthropic_stop_reason_to_finish_reason(self.stop_reason.as_deref());
                let mut chunks = vec![writer.finish(finish)];
                if let Some(usage) = &self.usage {
                    chunks.push(writer.usage(&anthropic_usage_to_openai_usage(usage)));
                }
                self.finished = true;
                Ok(chunks)
            }
            "error" => Err(error_event(&self.provider, data)),
            // `ping`, and event types Anthropic may add: its versioning policy says clients
            // must ignore events they do not know.
            _ => Ok(Vec::new()),
        }
    }

    fn block_start(&mut self, start: BlockStart) -> Result<Vec<Bytes>, ProviderError> {
        let Some(writer) = &self.writer else {
            return Err(self.before_start());
        };
        let (block, chunks) = match start.content_block {
            StartedBlock::Text { text } => {
                let chunks = if text.is_empty() {
                    Vec::new()
                } else {
                    vec![writer.text(&text)]
                };
                (OpenBlock::Text, chunks)
            }
            StartedBlock::ToolUse { id, name, input } => {
                let index = self.tool_calls;
                self.tool_calls += 1;
                let mut chunks = vec![writer.tool_call_start(index, &id, &name)];
                // Arguments normally follow as deltas after an empty `input`; a block that
                // starts with its whole input has it sent here.
                let complete = input.as_object().is_some_and(|o| !o.is_empty());
                if complete {
                    chunks.push(writer.tool_call_arguments(index, &input.to_string()));
                }
                let block = OpenBlock::ToolCall {
                    index,
                    sent_arguments: complete,
                };
                (block, chunks)
            }
            StartedBlock::Other => (OpenBlock::Ignored, Vec::new()),
        };
        self.blocks.insert(start.index, block);
        Ok(chunks)
    }

    fn block_delta(&mut self, delta: BlockDelta) -> Result<Vec<Bytes>, ProviderError> {
        let Some(writer) = &self.writer else {
            return Err(self.before_start());
        };
        let Some(block) = self.blocks.get_mut(&delta.index) else {
            return Err(ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!(
                    "{} sent a delta for content block {} that never started",
                    self.provider, delta.index
                ),
            ));
        };
        Ok(match (block, delta.delta) {
            (OpenBlock::Text, Delta::Text { text }) if !text.is_empty() => {
                vec![writer.text(&text)]
            }
            (
                OpenBlock::ToolCall {
                    index,
                    sent_arguments,
                },
                Delta::InputJson { partial_json },
            ) if !partial_json.is_empty() => {
                *sent_arguments = true;
                vec![writer.tool_call_arguments(*index, &partial_json)]
            }
            _ => Vec::new(),
        })
    }

    /// A tool call that received no argument text gets `{}`, so its arguments always parse.
    fn block_stop(&mut self, index: u32) -> Result<Vec<Bytes>, ProviderError> {
        let Some(writer) = &self.writer else {
            return Err(self.before_start());
        };
        Ok(match self.blocks.remove(&index) {
            Some(OpenBlock::ToolCall {
                index,
                sent_arguments: false,
            }) => vec![writer.tool_call_arguments(index, "{}")],
            _ => Vec::new(),
        })
    }

    fn writer(&self) -> Result<&ChunkWriter, ProviderError> {
        self.writer.as_ref().ok_or_else(|| self.before_start())
    }

    fn before_start(&self) -> ProviderError {
        self.protocol_error("events before `message_start`".to_owned())
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        event: &str,
        data: &str,
    ) -> Result<T, ProviderError> {
        serde_json::from_str(data)
            .map_err(|e| self.protocol_error(format!("a malformed `{event}` event ({e})")))
    }

    fn protocol_error(&self, what: String) -> ProviderError {
        ProviderError::new(
            ProviderErrorKind::InvalidResponse,
            format!("{} sent {what}", self.provider),
        )
    }

    /// The error for a stream that ended before `message_stop`.
    fn cut_short(&self) -> ProviderError {
        ProviderError::new(
            ProviderErrorKind::StreamInterrupted,
            format!("{}: the stream ended before `message_stop`", self.provider),
        )
    }
}

/// The OpenAI chunk stream of an Anthropic event stream.
pub fn chunk_stream(
    provider: String,
    events: impl Stream<Item = Result<Event, ProviderError>> + Send + 'static,
) -> ChunkStream {
    struct State<S> {
        events: std::pin::Pin<Box<S>>,
        translator: StreamTranslator,
        pending: VecDeque<Bytes>,
        done: bool,
    }
    let state = State {
        events: Box::pin(events),
        translator: StreamTranslator::new(provider),
        pending: VecDeque::new(),
        done: false,
    };
    let chunks = futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(chunk) = state.pending.pop_front() {
                return Some((Ok(chunk), state));
            }
            if state.done || state.translator.is_finished() {
                return None;
            }
            let item = match state.events.next().await {
                Some(Ok(event)) => state.translator.on_event(&event.event, &event.data),
                Some(Err(e)) => Err(e),
                None => Err(state.translator.cut_short()),
            };
            match item {
                Ok(chunks) => state.pending.extend(chunks),
                Err(e) => {
                    state.done = true;
                    return Some((Err(e), state));
                }
            }
        }
    });
    Box::pin(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(b: &Bytes) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn a_tool_call_without_argument_deltas_gets_empty_object_arguments() {
        let mut t = StreamTranslator::new("anthropic");
        t.on_event(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{"input_tokens":5,"output_tokens":1}}}"#,
        )
        .unwrap();
        let start = t
            .on_event(
                "content_block_start",
                r#"{"index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"now","input":{}}}"#,
            )
            .unwrap();
        assert_eq!(
            start.len(),
            2,
            "the role chunk, then the call's first delta"
        );
        assert_eq!(parse(&start[0])["choices"][0]["delta"]["role"], "assistant");
        let stop = t.on_event("content_block_stop", r#"{"index":0}"#).unwrap();
        assert_eq!(
            parse(&stop[0])["choices"][0]["delta"]["tool_calls"][0],
            json!({"index":0,"function":{"arguments":"{}"}})
        );
    }

    #[test]
    fn events_before_message_start_are_a_protocol_error() {
        let mut t = StreamTranslator::new("anthropic");
        let e = t
            .on_event(
                "content_block_delta",
                r#"{"index":0,"delta":{"type":"text_delta","text":"x"}}"#,
            )
            .unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::InvalidResponse);
    }
}
