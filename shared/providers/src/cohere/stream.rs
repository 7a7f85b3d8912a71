//! Cohere v2 stream events translated into OpenAI `chat.completion.chunk`s.
//!
//! Cohere streams named SSE events (`message-start`, `content-delta`, `tool-call-start`,
//! `tool-call-delta`, `message-end`, …), each a JSON object with a `type`. The translator is
//! pure (one event in, the chunks it means out) so it is tested without a network: the role
//! chunk first, text and tool-call argument fragments as they come, then the finish chunk and a
//! usage-only chunk from `message-end`. A stream that ends before `message-end` is an error,
//! never a silent success.

use std::collections::HashMap;
use std::collections::VecDeque;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use serde::Deserialize;
use serde_json::Value;

use super::response::{
    CohereUsage, LogprobItem, cohere_usage_to_openai_usage, finish_reason, logprobs,
};
use crate::translate::ChunkWriter;

/// One Cohere stream event; every field any event type uses, each optional.
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    delta: Option<Delta>,
    /// On `content-delta` when `logprobs` was asked for.
    #[serde(default)]
    logprobs: Option<LogprobItem>,
}

#[derive(Debug, Default, Deserialize)]
struct Delta {
    #[serde(default)]
    message: Option<DeltaMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    usage: Option<CohereUsage>,
}

#[derive(Debug, Default, Deserialize)]
struct DeltaMessage {
    #[serde(default)]
    content: Option<DeltaContent>,
    #[serde(default)]
    tool_calls: Option<DeltaToolCall>,
}

#[derive(Debug, Default, Deserialize)]
struct DeltaContent {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DeltaToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<DeltaFunction>,
}

#[derive(Debug, Default, Deserialize)]
struct DeltaFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// The state of one streamed answer.
#[derive(Debug)]
pub(crate) struct Translator {
    model: String,
    writer: Option<ChunkWriter>,
    /// Content blocks that are `thinking`, by Cohere's index: their deltas are left out.
    thinking: Vec<u32>,
    /// Cohere's tool-call index → OpenAI's (0-based, in the order the calls started).
    tool_calls: HashMap<u32, u32>,
    last_tool_call: Option<u32>,
    finished: bool,
}

impl Translator {
    pub(crate) fn new(model: impl Into<String>) -> Self {
        Translator {
            model: model.into(),
            writer: None,
            thinking: Vec::new(),
            tool_calls: HashMap::new(),
            last_tool_call: None,
            finished: false,
        }
    }

    /// Whether `message-end` arrived.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// The chunks one event's `data` means (none for events with nothing to tell).
    pub(crate) fn event(&mut self, data: &str) -> Result<Vec<Bytes>, ProviderError> {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(Vec::new());
        }
        let event: Event = serde_json::from_str(data).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("Cohere sent a stream event that is not its protocol ({e})"),
            )
        })?;
        let mut out = Vec::new();
        let writer = match &self.writer {
            Some(writer) => writer.clone(),
            None => {
                let id = if event.kind == "message-start" {
                    event.id.clone()
                } else {
                    None
                };
                let writer = ChunkWriter::new(id, self.model.clone());
                out.push(writer.role());
                self.writer = Some(writer.clone());
                writer
            }
        };
        let delta = event.delta.unwrap_or_default();
        let message = delta.message.unwrap_or_default();
        match event.kind.as_str() {
            "content-start" => {
                let content = message.content.unwrap_or_default();
                if content.kind.as_deref() == Some("thinking") {
                    self.thinking.push(event.index.unwrap_or(0));
                } else if let Some(text) = content.text.filter(|t| !t.is_empty()) {
                    out.push(writer.text(&text));
                }
            }
            "content-delta" => {
                let index = event.index.unwrap_or(0);
                if let Some(text) = message.content.and_then(|c| c.text)
                    && !text.is_empty()
                    && !self.thinking.contains(&index)
                {
                    let chunk = writer.text(&text);
                    out.push(match &event.logprobs {
                        Some(item) => with_logprobs(chunk, item),
                        None => chunk,
                    });
                }
            }
            "tool-call-start" => {
                let call = message.tool_calls.unwrap_or_default();
                let function = call.function.unwrap_or_default();
                let index = self.tool_calls.len() as u32;
                self.tool_calls.insert(event.index.unwrap_or(index), index);
                self.last_tool_call = Some(index);
                out.push(writer.tool_call_start(
                    index,
                    call.id.as_deref().unwrap_or_default(),
                    function.name.as_deref().unwrap_or_default(),
                ));
                if let Some(arguments) = function.arguments.filter(|a| !a.is_empty()) {
                    out.push(writer.tool_call_arguments(index, &arguments));
                }
            }
            "tool-call-delta" => {
                let index = event
                    .index
                    .and_then(|i| self.tool_calls.get(&i).copied())
                    .or(self.last_tool_call)
                    .ok_or_else(|| {
                        ProviderError::new(
                            ProviderErrorKind::InvalidResponse,
                            "Cohere sent tool-call-delta before any tool-call-start",
                        )
                    })?;
                if let Some(arguments) = message
                    .tool_calls
                    .and_then(|c| c.function)
                    .and_then(|f| f.arguments)
                    .filter(|a| !a.is_empty())
                {
                    out.push(writer.tool_call_arguments(index, &arguments));
                }
            }
            "message-end" => {
                let reason = delta.finish_reason.as_deref().unwrap_or("COMPLETE");
                let finish = finish_reason(reason, delta.error.as_deref())?;
                out.push(writer.finish(finish));
                if let Some(usage) = &delta.usage {
                    out.push(writer.usage(&cohere_usage_to_openai_usage(usage)));
                }
                self.finished = true;
            }
            // message-start (its role chunk is written above), content-end, tool-plan-delta,
            // tool-call-end, citation-start/end, debug and event types added later carry
            // nothing an OpenAI client reads.
            _ => {}
        }
        Ok(out)
    }
}

/// A text chunk with the log probabilities of its text in `choices[0].logprobs`.
fn with_logprobs(chunk: Bytes, item: &LogprobItem) -> Bytes {
    let Ok(mut value) = serde_json::from_slice::<Value>(&chunk) else {
        return chunk;
    };
    value["choices"][0]["logprobs"] = logprobs(std::slice::from_ref(item));
    serde_json::to_vec(&value).map_or(chunk, Bytes::from)
}

/// The chunks of a Cohere SSE stream; an end before `message-end` is `StreamInterrupted`.
pub(crate) fn chunks<S>(
    events: S,
    model: String,
) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send
where
    S: Stream<Item = Result<eventsource_stream::Event, ProviderError>> + Send + Unpin + 'static,
{
    struct State<S> {
        events: S,
        translator: Translator,
        pending: VecDeque<Bytes>,
        done: bool,
    }
    let state = State {
        events,
        translator: Translator::new(model),
        pending: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(chunk) = state.pending.pop_front() {
                return Some((Ok(chunk), state));
            }
            if state.done || state.translator.finished() {
                return None;
            }
            match state.events.next().await {
                Some(Ok(event)) => match state.translator.event(&event.data) {
                    Ok(chunks) => state.pending.extend(chunks),
                    Err(e) => {
                        state.done = true;
                        return Some((Err(e), state));
                    }
                },
                Some(Err(e)) => {
                    state.done = true;
                    return Some((Err(e), state));
                }
                None => {
                    state.done = true;
                    return Some((
                        Err(ProviderError::new(
                            ProviderErrorKind::StreamInterrupted,
                            "Cohere's stream ended before its message-end event",
                        )),
                        state,
                    ));
                }
            }
        }
    })
}

/// Every chunk of a whole recorded stream, given its events' `data` in order.
pub(crate) fn translate_events<'a>(
    model: &str,
    events: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Value>, ProviderError> {
    let mut translator = Translator::new(model);
    let mut out = Vec::new();
    for data in events {
        for chunk in translator.event(data)? {
            out.push(serde_json::from_slice(&chunk).unwrap_or(Value::Null));
        }
        if translator.finished() {
            return Ok(out);
        }
    }
    Err(ProviderError::new(
        ProviderErrorKind::StreamInterrupted,
        "Cohere's stream ended before its message-end event",
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(events: &[Value]) -> Vec<Value> {
        let data: Vec<String> = events.iter().map(Value::to_string).collect();
        translate_events("command-a-03-2025", data.iter().map(String::as_str)).unwrap()
    }

    #[test]
    fn thinking_is_left_out_and_text_keeps_its_log_probabilities() {
        let chunks = run(&[
            json!({"type": "message-start", "id": "m1", "delta": {"message": {"role": "assistant"}}}),
            json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}}}),
            json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "hmm"}}}}),
            json!({"type": "content-start", "index": 1, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
            json!({"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": "Hi"}}},
                   "logprobs": {"text": "Hi", "token_ids": [5], "logprobs": [-0.25]}}),
            json!({"type": "message-end", "delta": {"finish_reason": "COMPLETE"}}),
        ]);
        assert_eq!(chunks.len(), 3, "role, text, finish; no usage reported");
        assert_eq!(chunks[0]["id"], "m1");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(
            chunks[1]["choices"][0]["logprobs"]["content"][0]["logprob"],
            -0.25
        );
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn tool_calls_are_numbered_from_zero_whatever_cohere_indexes() {
        let chunks = run(&[
            json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Let me check."}}}}),
            json!({"type": "tool-call-start", "index": 1, "delta": {"message": {"tool_calls": {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}}}}}),
            json!({"type": "tool-call-delta", "index": 1, "delta": {"message": {"tool_calls": {"function": {"arguments": ": 1}"}}}}}),
            json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": {"tokens": {"input_tokens": 9, "output_tokens": 4}}}}),
        ]);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let start = &chunks[2]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(start["index"], 0);
        assert_eq!(start["id"], "t1");
        assert_eq!(
            chunks[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\""
        );
        assert_eq!(
            chunks[4]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            ": 1}"
        );
        assert_eq!(chunks[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[6]["usage"]["total_tokens"], 13);
    }
}
