//! Deterministic Messages answers: a Message object, or the named SSE events of a stream
//! (`message_start`, `content_block_*`, `ping`, `message_delta`, `message_stop`) as
//! Anthropic's streaming documentation shows them.

use crate::content::{Heard, simulated_text};
use serde_json::{Value, json};

use super::request::{MessagesRequest, ToolChoice, ToolDefinition};
use crate::content::{
    alphanumeric, estimate_tokens, fingerprint, fragments, pieces, truncate_words,
    value_for_schema, word_count,
};

/// Size of the `partial_json` fragments of streamed tool input.
const INPUT_FRAGMENT_CHARS: usize = 8;

pub(super) struct ToolUse {
    id: String,
    name: String,
    input: Value,
}

pub(super) enum Reply {
    Text {
        text: String,
        stop_reason: &'static str,
        stop_sequence: Option<String>,
    },
    ToolUses(Vec<ToolUse>),
}

impl Reply {
    /// Tool calls when tools are offered and the conversation is not answering one (unless
    /// the choice forces a call); text otherwise.
    pub(super) fn generate(request: &MessagesRequest) -> Self {
        let calls = match &request.tool_choice {
            ToolChoice::None => false,
            ToolChoice::Auto => !request.answering_tool,
            ToolChoice::Any | ToolChoice::Tool(_) => true,
        };
        if !request.tools.is_empty() && calls {
            return Self::ToolUses(tool_uses(request));
        }
        Self::text(request)
    }

    fn text(request: &MessagesRequest) -> Self {
        let model = &request.model;
        let heard = &request.last_user_text;
        let text = simulated_text(
            model,
            request.directives.words,
            if request.answering_tool {
                Heard::ToolResult(heard)
            } else {
                Heard::Prompt(heard)
            },
        );
        let mut text = match &request.json_schema {
            Some(schema) => value_for_schema(schema).to_string(),
            None => text,
        };
        let mut stop_reason = "end_turn";
        let mut stop_sequence = None;
        let earliest = request
            .stop_sequences
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| text.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|(at, _)| *at);
        if let Some((at, stop)) = earliest {
            stop_sequence = Some(stop.clone());
            text.truncate(at);
            stop_reason = "stop_sequence";
        }
        let limit = usize::try_from(request.max_tokens).unwrap_or(usize::MAX);
        if let Some(cut) = truncate_words(&text, limit) {
            text = cut.to_owned();
            stop_reason = "max_tokens";
            stop_sequence = None;
        }
        Self::Text {
            text,
            stop_reason,
            stop_sequence,
        }
    }

    fn stop_reason(&self) -> &'static str {
        match self {
            Self::Text { stop_reason, .. } => stop_reason,
            Self::ToolUses(_) => "tool_use",
        }
    }

    fn stop_sequence(&self) -> Value {
        match self {
            Self::Text {
                stop_sequence: Some(s),
                ..
            } => json!(s),
            _ => Value::Null,
        }
    }

    pub(super) fn output_tokens(&self) -> u64 {
        match self {
            Self::Text { text, .. } => word_count(text) as u64,
            Self::ToolUses(calls) => calls
                .iter()
                .map(|c| 3 + estimate_tokens(&c.name) + estimate_tokens(&c.input.to_string()))
                .sum(),
        }
    }

    fn blocks(&self) -> Vec<Value> {
        match self {
            Self::Text { text, .. } => {
                vec![json!({"type": "text", "text": text, "citations": null})]
            }
            Self::ToolUses(calls) => calls
                .iter()
                .map(|c| {
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.input,
                        "caller": {"type": "direct"}})
                })
                .collect(),
        }
    }

    /// The Message object of a non-streamed answer.
    pub(super) fn message(&self, id: &str, request: &MessagesRequest, usage: bool) -> Value {
        let mut message = envelope(id, &request.model);
        message["content"] = Value::Array(self.blocks());
        message["stop_reason"] = json!(self.stop_reason());
        message["stop_sequence"] = self.stop_sequence();
        if usage {
            message["usage"] = usage_object(request.input_tokens, self.output_tokens());
        } else if let Some(object) = message.as_object_mut() {
            object.remove("usage");
        }
        message
    }

    /// The `(event name, data)` pairs of a streamed answer.
    pub(super) fn events(
        &self,
        id: &str,
        request: &MessagesRequest,
        usage: bool,
    ) -> Vec<NamedEvent> {
        let mut start = envelope(id, &request.model);
        if usage {
            start["usage"] = usage_object(request.input_tokens, 1);
        } else if let Some(object) = start.as_object_mut() {
            object.remove("usage");
        }
        let mut events = vec![(
            "message_start",
            json!({"type": "message_start", "message": start}),
        )];
        match self {
            Self::Text { text, .. } => {
                let block = json!({"type": "text", "text": "", "citations": null});
                events.push(block_start(0, block));
                events.push(("ping", json!({"type": "ping"})));
                for piece in pieces(text) {
                    events.push(block_delta(0, json!({"type": "text_delta", "text": piece})));
                }
                events.push(block_stop(0));
            }
            Self::ToolUses(calls) => {
                for (index, call) in calls.iter().enumerate() {
                    let block = json!({"type": "tool_use", "id": call.id, "name": call.name,
                        "input": {}, "caller": {"type": "direct"}});
                    events.push(block_start(index, block));
                    if index == 0 {
                        events.push(("ping", json!({"type": "ping"})));
                    }
                    let input = call.input.to_string();
                    for fragment in fragments(&input, INPUT_FRAGMENT_CHARS) {
                        let delta = json!({"type": "input_json_delta", "partial_json": fragment});
                        events.push(block_delta(index, delta));
                    }
                    events.push(block_stop(index));
                }
            }
        }
        let mut delta = json!({
            "type": "message_delta",
            "delta": {
                "stop_reason": self.stop_reason(),
                "stop_sequence": self.stop_sequence(),
                "stop_details": null,
                "container": null,
            },
        });
        if usage {
            delta["usage"] = json!({"output_tokens": self.output_tokens()});
        }
        events.push(("message_delta", delta));
        events.push(("message_stop", json!({"type": "message_stop"})));
        events
    }
}

type NamedEvent = (&'static str, Value);

fn block_start(index: usize, block: Value) -> NamedEvent {
    let data = json!({"type": "content_block_start", "index": index, "content_block": block});
    ("content_block_start", data)
}

fn block_delta(index: usize, delta: Value) -> NamedEvent {
    let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
    ("content_block_delta", data)
}

fn block_stop(index: usize) -> NamedEvent {
    let data = json!({"type": "content_block_stop", "index": index});
    ("content_block_stop", data)
}

/// A Message with everything but its content and stop reason.
fn envelope(id: &str, model: &str) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": null,
        "stop_sequence": null,
        "stop_details": null,
        "usage": null,
        "container": null,
    })
}

fn usage_object(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "output_tokens": output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": null,
        "inference_geo": null,
        "server_tool_use": null,
        "service_tier": "standard",
    })
}

/// The named tool; every tool when parallel use is allowed and no tool is named; else the
/// first.
fn tool_uses(request: &MessagesRequest) -> Vec<ToolUse> {
    let chosen: Vec<&ToolDefinition> = match &request.tool_choice {
        ToolChoice::Tool(name) => request
            .tools
            .iter()
            .filter(|t| &t.name == name)
            .take(1)
            .collect(),
        _ if request.parallel_tool_use => request.tools.iter().collect(),
        _ => request.tools.iter().take(1).collect(),
    };
    chosen
        .into_iter()
        .enumerate()
        .map(|(index, tool)| ToolUse {
            id: format!(
                "toolu_01{}",
                alphanumeric(
                    fingerprint(&[&request.fingerprint.to_le_bytes(), &index.to_le_bytes()]),
                    22
                )
            ),
            name: tool.name.clone(),
            input: value_for_schema(&tool.input_schema),
        })
        .collect()
}
