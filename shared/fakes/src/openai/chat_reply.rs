//! The reply to a validated Chat Completions request, rendered as one `chat.completion`
//! object or as the `chat.completion.chunk` events of a stream.
//!
//! Both renderings come from the same [`Reply`], so concatenating a stream's deltas
//! always reproduces the non-streamed message exactly.

use crate::content::{Heard, simulated_text};
use serde_json::{Map, Value, json};

use super::{
    chat_messages::Role,
    chat_request::{ChatRequest, ResponseFormat},
    chat_tools::{Function, ToolChoice},
};
use crate::content::{
    alphanumeric, estimate_tokens, fingerprint, fragments, pieces, truncate_at_stop,
    truncate_words, value_for_schema, word_count,
};

const SYSTEM_FINGERPRINT: &str = "fp_fake";
/// Size of the argument fragments in streamed tool calls.
const ARGUMENT_FRAGMENT_CHARS: usize = 8;

pub(super) enum Reply {
    Text {
        content: String,
        finish_reason: &'static str,
    },
    ToolCalls(Vec<Call>),
    /// A call through the deprecated `functions` API.
    FunctionCall(Call),
}

pub(super) struct Call {
    id: String,
    name: String,
    arguments: String,
}

/// Where a stream reports token usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StreamUsage {
    /// Only with `stream_options.include_usage`: every chunk then carries `"usage":
    /// null` and a final choice-less chunk carries the usage (OpenAI).
    OnRequest,
    /// As [`OnRequest`](Self::OnRequest), and always in `x_groq.usage` on the chunk that
    /// finishes the last choice (Groq).
    OnRequestAndXGroq,
    /// Always, as `usage` on the chunk that finishes the last choice (Together, Mistral).
    FinalChunk,
}

/// What every rendering of one response shares.
pub(super) struct Envelope<'a> {
    pub id: String,
    pub created: u64,
    pub model: &'a str,
}

impl Reply {
    /// Tool calls when tools are offered and the conversation is not answering one
    /// (unless the choice forces a call, as OpenAI's does); text otherwise.
    pub(super) fn generate(request: &ChatRequest) -> Self {
        let answering_tool = request
            .messages
            .last()
            .is_some_and(|message| matches!(message.role, Role::Tool | Role::Function));
        let calls_function = |choice: &ToolChoice| match choice {
            ToolChoice::None => false,
            ToolChoice::Auto => !answering_tool,
            ToolChoice::Required | ToolChoice::Named(_) => true,
        };
        if !request.tools.is_empty() && calls_function(&request.tool_choice) {
            return Self::ToolCalls(tool_calls(request));
        }
        if !request.functions.is_empty() && calls_function(&request.function_call) {
            let chosen = chosen_functions(&request.functions, &request.function_call, false);
            if let Some(function) = chosen.into_iter().next() {
                return Self::FunctionCall(Call::new(request.fingerprint, 0, function));
            }
        }
        Self::text(request, answering_tool)
    }

    fn text(request: &ChatRequest, answering_tool: bool) -> Self {
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
        let text = simulated_text(
            model,
            request.directives.words,
            if answering_tool {
                Heard::ToolResult(heard)
            } else {
                Heard::Prompt(heard)
            },
        );
        let mut content = match &request.response_format {
            ResponseFormat::Text => text,
            ResponseFormat::JsonObject => json!({ "reply": text }).to_string(),
            ResponseFormat::JsonSchema(schema) => value_for_schema(schema).to_string(),
        };
        if let Some(cut) = truncate_at_stop(&content, &request.stop) {
            content = cut.to_owned();
        }
        let mut finish_reason = "stop";
        if let Some(cut) = request
            .max_tokens
            .and_then(|max| truncate_words(&content, max))
        {
            content = cut.to_owned();
            finish_reason = "length";
        }
        Self::Text {
            content,
            finish_reason,
        }
    }

    fn finish_reason(&self) -> &'static str {
        match self {
            Self::Text { finish_reason, .. } => finish_reason,
            Self::ToolCalls(_) => "tool_calls",
            Self::FunctionCall(_) => "function_call",
        }
    }

    /// `usage` for a response with `choices` copies of this reply.
    pub(super) fn usage(&self, request: &ChatRequest) -> Value {
        let per_choice = match self {
            Self::Text { content, .. } => word_count(content) as u64,
            Self::ToolCalls(calls) => calls.iter().map(Call::tokens).sum(),
            Self::FunctionCall(call) => call.tokens(),
        };
        let completion = per_choice * request.n as u64;
        json!({
            "prompt_tokens": request.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": request.prompt_tokens + completion,
        })
    }

    /// The whole `chat.completion` object.
    pub(super) fn completion(
        &self,
        request: &ChatRequest,
        envelope: &Envelope<'_>,
        usage: Option<Value>,
    ) -> Value {
        let choices = (0..request.n)
            .map(|index| {
                json!({
                    "index": index,
                    "message": self.message(),
                    "logprobs": self.logprobs(request.logprobs),
                    "finish_reason": self.finish_reason(),
                })
            })
            .collect();
        let mut object = envelope.fields("chat.completion");
        object.insert("choices".to_owned(), Value::Array(choices));
        if let Some(usage) = usage {
            object.insert("usage".to_owned(), usage);
        }
        Value::Object(object)
    }

    /// The `chat.completion.chunk` objects of a stream, in order, with `usage` (if any)
    /// where `placement` puts it.
    pub(super) fn chunks(
        &self,
        request: &ChatRequest,
        envelope: &Envelope<'_>,
        usage: Option<Value>,
        placement: StreamUsage,
    ) -> Vec<Value> {
        let usage_chunk = usage
            .as_ref()
            .filter(|_| request.include_usage && placement != StreamUsage::FinalChunk);
        let chunk = |choices: Vec<Value>| {
            let mut object = envelope.fields("chat.completion.chunk");
            object.insert("choices".to_owned(), Value::Array(choices));
            if usage_chunk.is_some() {
                object.insert("usage".to_owned(), Value::Null);
            }
            object
        };
        let mut chunks = Vec::new();
        for index in 0..request.n {
            for (delta, logprobs) in self.deltas(request.logprobs) {
                let choice = json!({ "index": index, "delta": delta, "logprobs": logprobs, "finish_reason": null });
                chunks.push(chunk(vec![choice]));
            }
            let finish = json!({ "index": index, "delta": {}, "logprobs": null, "finish_reason": self.finish_reason() });
            chunks.push(chunk(vec![finish]));
        }
        if let (Some(usage), Some(last)) = (&usage, chunks.last_mut()) {
            match placement {
                StreamUsage::OnRequest => {}
                StreamUsage::OnRequestAndXGroq => {
                    last.insert("x_groq".to_owned(), json!({ "usage": usage }));
                }
                StreamUsage::FinalChunk => {
                    last.insert("usage".to_owned(), usage.clone());
                }
            }
        }
        if let Some(usage) = usage_chunk {
            let mut last = chunk(Vec::new());
            last.insert("usage".to_owned(), usage.clone());
            chunks.push(last);
        }
        chunks.into_iter().map(Value::Object).collect()
    }

    fn message(&self) -> Value {
        match self {
            Self::Text { content, .. } => {
                json!({ "role": "assistant", "content": content, "refusal": null })
            }
            Self::ToolCalls(calls) => json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": calls.iter().map(|call| json!({
                    "id": call.id,
                    "type": "function",
                    "function": { "name": call.name, "arguments": call.arguments },
                })).collect::<Vec<_>>(),
            }),
            Self::FunctionCall(call) => json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "function_call": { "name": call.name, "arguments": call.arguments },
            }),
        }
    }

    fn logprobs(&self, top: Option<usize>) -> Value {
        match (self, top) {
            (_, None) => Value::Null,
            (Self::Text { content, .. }, Some(top)) => json!({
                "content": pieces(content).into_iter().map(|piece| token_logprob(piece, top)).collect::<Vec<_>>(),
                "refusal": null,
            }),
            (_, Some(_)) => json!({ "content": null, "refusal": null }),
        }
    }

    /// Each stream delta before the finishing one, with its `logprobs`.
    fn deltas(&self, top: Option<usize>) -> Vec<(Value, Value)> {
        match self {
            Self::Text { content, .. } => {
                let opening = (json!({ "role": "assistant", "content": "" }), Value::Null);
                let words = pieces(content).into_iter().map(|piece| {
                    let logprobs = top.map_or(
                        Value::Null,
                        |top| json!({ "content": [token_logprob(piece, top)], "refusal": null }),
                    );
                    (json!({ "content": piece }), logprobs)
                });
                std::iter::once(opening).chain(words).collect()
            }
            Self::ToolCalls(calls) => {
                let mut deltas = Vec::new();
                for (index, call) in calls.iter().enumerate() {
                    let opening = json!({
                        "index": index,
                        "id": call.id,
                        "type": "function",
                        "function": { "name": call.name, "arguments": "" },
                    });
                    let mut delta = Map::new();
                    if index == 0 {
                        delta.insert("role".to_owned(), json!("assistant"));
                        delta.insert("content".to_owned(), Value::Null);
                    }
                    delta.insert("tool_calls".to_owned(), json!([opening]));
                    deltas.push((Value::Object(delta), Value::Null));
                    for fragment in fragments(&call.arguments, ARGUMENT_FRAGMENT_CHARS) {
                        let delta = json!({ "tool_calls": [{ "index": index, "function": { "arguments": fragment } }] });
                        deltas.push((delta, Value::Null));
                    }
                }
                deltas
            }
            Self::FunctionCall(call) => {
                let opening = json!({
                    "role": "assistant",
                    "content": null,
                    "function_call": { "name": call.name, "arguments": "" },
                });
                let arguments = fragments(&call.arguments, ARGUMENT_FRAGMENT_CHARS)
                    .into_iter()
                    .map(|fragment| {
                        (
                            json!({ "function_call": { "arguments": fragment } }),
                            Value::Null,
                        )
                    });
                std::iter::once((opening, Value::Null))
                    .chain(arguments)
                    .collect()
            }
        }
    }
}

impl Call {
    fn new(seed: u64, index: usize, function: &Function) -> Self {
        let arguments = function
            .parameters
            .as_ref()
            .map_or_else(|| json!({}), value_for_schema);
        Self {
            id: format!(
                "call_{}",
                alphanumeric(
                    fingerprint(&[&seed.to_le_bytes(), &index.to_le_bytes()]),
                    24
                )
            ),
            name: function.name.clone(),
            arguments: arguments.to_string(),
        }
    }

    fn tokens(&self) -> u64 {
        3 + estimate_tokens(&self.name) + estimate_tokens(&self.arguments)
    }
}

impl Envelope<'_> {
    fn fields(&self, object: &str) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("id".to_owned(), json!(self.id));
        fields.insert("object".to_owned(), json!(object));
        fields.insert("created".to_owned(), json!(self.created));
        fields.insert("model".to_owned(), json!(self.model));
        fields.insert("system_fingerprint".to_owned(), json!(SYSTEM_FINGERPRINT));
        fields
    }
}

fn tool_calls(request: &ChatRequest) -> Vec<Call> {
    chosen_functions(
        &request.tools,
        &request.tool_choice,
        request.parallel_tool_calls,
    )
    .into_iter()
    .enumerate()
    .map(|(index, function)| Call::new(request.fingerprint, index, function))
    .collect()
}

/// The named function; every function for `auto` with parallel calls allowed; else the first.
fn chosen_functions<'a>(
    functions: &'a [Function],
    choice: &ToolChoice,
    parallel: bool,
) -> Vec<&'a Function> {
    match choice {
        ToolChoice::Named(name) => functions
            .iter()
            .filter(|f| &f.name == name)
            .take(1)
            .collect(),
        ToolChoice::Auto if parallel => functions.iter().collect(),
        _ => functions.iter().take(1).collect(),
    }
}

/// A `logprobs.content` entry: a plausible, deterministic log probability for `token`
/// and `top` alternatives led by the token itself.
fn token_logprob(token: &str, top: usize) -> Value {
    let logprob = -((fingerprint(&[token.as_bytes()]) % 2000 + 1) as f64) / 1000.0;
    let entry = |token: &str, logprob: f64| json!({ "token": token, "logprob": logprob, "bytes": token.as_bytes() });
    let alternatives: Vec<Value> = (0..top)
        .map(|rank| match rank {
            0 => entry(token, logprob),
            _ => entry(&format!("alt{rank}"), logprob - rank as f64),
        })
        .collect();
    json!({ "token": token, "logprob": logprob, "bytes": token.as_bytes(), "top_logprobs": alternatives })
}
