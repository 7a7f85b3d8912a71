//! The reply to a valid `/v2/chat` request, as one `ChatResponseV2` or as the stream events
//! Cohere sends (`message-start`, `content-*` or `tool-plan-delta` + `tool-call-*`,
//! `message-end`), both from the same [`Reply`] so a stream concatenates to the JSON answer.

use crate::content::{Heard, simulated_text};
use serde_json::{Value, json};

use super::chat_request::{ChatRequest, Role};
use crate::content::{
    alphanumeric, estimate_tokens, fingerprint, fragments, pieces, truncate_at_stop,
    truncate_words, value_for_schema,
};

/// Size of the argument fragments in streamed tool calls.
const ARGUMENT_FRAGMENT_CHARS: usize = 8;

pub(super) struct Reply {
    id: String,
    body: Body,
    finish_reason: &'static str,
    input_tokens: u64,
    output_tokens: u64,
    usage: bool,
    logprobs: bool,
}

enum Body {
    Text(String),
    ToolCalls { plan: String, calls: Vec<Call> },
}

struct Call {
    id: String,
    name: String,
    arguments: String,
}

impl Reply {
    /// A call to the first tool when tools are offered (unless `NONE`, or the conversation is
    /// answering a tool and no call is `REQUIRED`); text otherwise.
    pub(super) fn generate(request: &ChatRequest, sequence: usize) -> Self {
        let seed = fingerprint(&[request.prompt_text().as_bytes(), &sequence.to_le_bytes()]);
        let id = super::uuid(seed);
        let answering_tool = request
            .messages
            .last()
            .is_some_and(|m| m.role == Role::Tool);
        let calls_tool = match request.tool_choice.as_deref() {
            Some("NONE") => false,
            Some(_) => true,
            None => !answering_tool,
        };
        let prompt_tokens = estimate_tokens(&request.prompt_text());
        let (body, finish_reason) = match request.tools.first() {
            Some(tool) if calls_tool => {
                let arguments = value_for_schema(&tool.parameters).to_string();
                let call = Call {
                    id: format!(
                        "{}_{}",
                        tool.name,
                        alphanumeric(seed ^ 3, 12).to_lowercase()
                    ),
                    name: tool.name.clone(),
                    arguments,
                };
                let plan = format!("I will call {} to answer this.", tool.name);
                (
                    Body::ToolCalls {
                        plan,
                        calls: vec![call],
                    },
                    "TOOL_CALL",
                )
            }
            _ => text(request, answering_tool),
        };
        let output_tokens = match &body {
            Body::Text(text) => estimate_tokens(text),
            Body::ToolCalls { calls, .. } => calls
                .iter()
                .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments))
                .sum(),
        };
        Reply {
            id,
            body,
            finish_reason,
            input_tokens: prompt_tokens,
            output_tokens,
            usage: !request.directives.omit_usage,
            logprobs: request.logprobs,
        }
    }

    fn usage(&self) -> Value {
        json!({
            "billed_units": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
            "tokens": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
        })
    }

    /// The whole `ChatResponseV2`.
    pub(super) fn response(&self) -> Value {
        let message = match &self.body {
            Body::Text(text) => json!({
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
            }),
            Body::ToolCalls { plan, calls } => json!({
                "role": "assistant",
                "tool_plan": plan,
                "tool_calls": calls.iter().map(|c| json!({
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                })).collect::<Vec<_>>(),
            }),
        };
        let mut response = json!({
            "id": self.id,
            "finish_reason": self.finish_reason,
            "message": message,
        });
        if self.usage {
            response["usage"] = self.usage();
        }
        if self.logprobs
            && let Body::Text(text) = &self.body
        {
            response["logprobs"] = Value::Array(pieces(text).iter().map(|p| logprob(p)).collect());
        }
        response
    }

    /// The stream's events as `(event name, data)`, in order.
    pub(super) fn events(&self) -> Vec<(&'static str, Value)> {
        let mut events = vec![(
            "message-start",
            json!({"type": "message-start", "id": self.id, "delta": {"message": {"role": "assistant"}}}),
        )];
        match &self.body {
            Body::Text(text) => {
                events.push((
                    "content-start",
                    json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
                ));
                for piece in pieces(text) {
                    let mut event = json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}});
                    if self.logprobs {
                        event["logprobs"] = logprob(piece);
                    }
                    events.push(("content-delta", event));
                }
                events.push(("content-end", json!({"type": "content-end", "index": 0})));
            }
            Body::ToolCalls { plan, calls } => {
                for piece in pieces(plan) {
                    events.push((
                        "tool-plan-delta",
                        json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}}),
                    ));
                }
                for (index, call) in calls.iter().enumerate() {
                    events.push((
                        "tool-call-start",
                        json!({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": {
                            "id": call.id, "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }}}}),
                    ));
                    for fragment in fragments(&call.arguments, ARGUMENT_FRAGMENT_CHARS) {
                        events.push((
                            "tool-call-delta",
                            json!({"type": "tool-call-delta", "index": index, "delta": {"message": {"tool_calls": {"function": {"arguments": fragment}}}}}),
                        ));
                    }
                    events.push((
                        "tool-call-end",
                        json!({"type": "tool-call-end", "index": index}),
                    ));
                }
            }
        }
        let mut end =
            json!({"type": "message-end", "delta": {"finish_reason": self.finish_reason}});
        if self.usage {
            end["delta"]["usage"] = self.usage();
        }
        events.push(("message-end", end));
        events
    }
}

fn text(request: &ChatRequest, answering_tool: bool) -> (Body, &'static str) {
    let model = &request.model;
    let heard = if answering_tool {
        request.messages.last().map(|m| m.text.as_str())
    } else {
        request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.text.as_str())
    };
    let heard = heard.unwrap_or_default();
    let said = simulated_text(
        model,
        request.directives.words,
        if answering_tool {
            Heard::ToolResult(heard)
        } else {
            Heard::Prompt(heard)
        },
    );
    let mut content = match &request.json {
        None => said,
        Some(Value::Null) => json!({ "reply": said }).to_string(),
        Some(schema) => value_for_schema(schema).to_string(),
    };
    let mut finish_reason = "COMPLETE";
    if let Some(cut) = truncate_at_stop(&content, &request.stop_sequences) {
        content = cut.to_owned();
        finish_reason = "STOP_SEQUENCE";
    }
    if let Some(cut) = request
        .max_tokens
        .and_then(|max| truncate_words(&content, max))
    {
        content = cut.to_owned();
        finish_reason = "MAX_TOKENS";
    }
    (Body::Text(content), finish_reason)
}

/// A `LogprobItem` for one piece of text: one token, a plausible deterministic log probability.
fn logprob(piece: &str) -> Value {
    let hash = fingerprint(&[piece.as_bytes()]);
    let logprob = -((hash % 1000) as f64) / 1000.0;
    json!({"text": piece, "token_ids": [hash % 100_000], "logprobs": [logprob]})
}
