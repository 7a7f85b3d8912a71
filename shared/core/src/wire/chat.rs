//! `POST /v1/chat/completions`: the request as clients send it and the response they expect.
//!
//! The fields the gateway reasons about are typed; everything else a current OpenAI client may
//! send lands in `extra` and travels on untouched, so a new OpenAI parameter works the day it
//! ships. `None` fields are left out when serialising: for OpenAI `null` and absent mean the same.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Usage;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::whole::opt_u32"
    )]
    pub n: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::whole::opt_i64"
    )]
    pub max_tokens: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::whole::opt_i64"
    )]
    pub max_completion_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::whole::opt_i64"
    )]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::whole::opt_u32"
    )]
    pub top_logprobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<Map<String, Value>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::present"
    )]
    pub tools: Option<Vec<Tool>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::present"
    )]
    pub tool_choice: Option<ToolChoice>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::present"
    )]
    pub parallel_tool_calls: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::present"
    )]
    pub response_format: Option<ResponseFormat>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::present"
    )]
    pub user: Option<String>,
    /// Gateway extension: routing hints. Never sent upstream.
    #[serde(
        default,
        rename = "x-routing-hints",
        skip_serializing_if = "Option::is_none"
    )]
    pub routing_hints: Option<Value>,
    /// Gateway extension: the models to try, in order. Never sent upstream.
    #[serde(
        default,
        rename = "x-fallback-chain",
        skip_serializing_if = "Option::is_none"
    )]
    pub fallback_chain: Option<Vec<String>>,
    /// Every other parameter, passed through as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub fn as_slice(&self) -> &[String] {
        match self {
            Stop::One(s) => std::slice::from_ref(s),
            Stop::Many(v) => v,
        }
    }
}

/// One conversation turn, tagged by `role`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System(InstructionMessage),
    Developer(InstructionMessage),
    User(UserMessage),
    Assistant(AssistantMessage),
    Tool(ToolMessage),
    Function(FunctionMessage),
}

impl Message {
    pub fn role(&self) -> &'static str {
        match self {
            Message::System(_) => "system",
            Message::Developer(_) => "developer",
            Message::User(_) => "user",
            Message::Assistant(_) => "assistant",
            Message::Tool(_) => "tool",
            Message::Function(_) => "function",
        }
    }

    /// The message's content, where it has any.
    pub fn content(&self) -> Option<&Content> {
        match self {
            Message::System(m) | Message::Developer(m) => Some(&m.content),
            Message::User(m) => Some(&m.content),
            Message::Assistant(m) => m.content.as_ref(),
            Message::Tool(m) => Some(&m.content),
            Message::Function(_) => None,
        }
    }

    /// Every piece of text the model will read in this message, for token counting.
    pub fn for_each_text<'a>(&'a self, mut f: impl FnMut(&'a str)) {
        if let Some(content) = self.content() {
            content.for_each_text(&mut f);
        }
        match self {
            Message::Assistant(m) => {
                for call in m.tool_calls.iter().flatten() {
                    if let Some(function) = &call.function {
                        f(&function.name);
                        f(&function.arguments);
                    }
                }
            }
            Message::Function(m) => {
                f(&m.name);
                if let Some(content) = &m.content {
                    f(content);
                }
            }
            _ => {}
        }
    }
}

/// A system or developer message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstructionMessage {
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserMessage {
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssistantMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolMessage {
    pub content: Content,
    pub tool_call_id: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The deprecated `function` role, still sent by older clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionMessage {
    pub name: String,
    #[serde(default)]
    pub content: Option<String>,
}

/// Message content: a plain string or a list of typed parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl Content {
    pub fn for_each_text<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            Content::Text(text) => f(text),
            Content::Parts(parts) => {
                for part in parts {
                    match part {
                        ContentPart::Text { text, .. } => f(text),
                        ContentPart::Refusal { refusal, .. } => f(refusal),
                        _ => {}
                    }
                }
            }
        }
    }

    /// All text parts joined, for providers that take a plain string.
    pub fn joined_text(&self) -> String {
        let mut out = String::new();
        self.for_each_text(&mut |t| out.push_str(t));
        out
    }

    pub fn has_image(&self) -> bool {
        matches!(self, Content::Parts(parts) if parts.iter().any(|p| matches!(p, ContentPart::ImageUrl { .. })))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text {
        text: String,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    InputAudio {
        input_audio: Value,
    },
    File {
        file: Value,
    },
    Refusal {
        refusal: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Tool {
    Function {
        function: FunctionDefinition,
    },
    /// Free-form tools: passed through to providers that know them.
    Custom {
        custom: Value,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    /// `{"type": "function", "function": {"name": ..}}` and its newer siblings
    /// (`allowed_tools`, `custom`), passed through as sent.
    Object(Map<String, Value>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    None,
    Auto,
    Required,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCall>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// A non-streamed answer. Fields the gateway does not read travel in `extra`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletion {
    pub id: String,
    #[serde(default = "chat_completion_object")]
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn chat_completion_object() -> String {
    "chat.completion".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    pub message: ResponseMessage,
    /// Always present (OpenAI requires the key); `null` only from providers that omit it.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Always present, `null` unless log probabilities were asked for.
    #[serde(default)]
    pub logprobs: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseMessage {
    #[serde(default = "assistant_role")]
    pub role: String,
    /// Always present, `null` when the model only called tools.
    #[serde(default)]
    pub content: Option<String>,
    /// Always present, `null` unless the model refused.
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn assistant_role() -> String {
    "assistant".to_owned()
}

/// What the gateway reads of a non-streamed answer on the fast path: enough to know it is a
/// completion and what it used. The body itself travels on untouched.
#[derive(Debug, Deserialize)]
pub struct CompletionView {
    pub choices: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

impl ChatCompletion {
    /// Everything the model wrote, for counting completion tokens when the provider did not.
    pub fn for_each_output_text(&self, mut f: impl FnMut(&str)) {
        for choice in &self.choices {
            if let Some(content) = &choice.message.content {
                f(content);
            }
            if let Some(refusal) = &choice.message.refusal {
                f(refusal);
            }
            for call in choice.message.tool_calls.iter().flatten() {
                if let Some(function) = &call.function {
                    f(&function.name);
                    f(&function.arguments);
                }
            }
        }
    }
}

/// What the gateway reads from each streamed chunk without re-serialising it: the chunk itself
/// travels to the client byte for byte.
#[derive(Debug, Default, Deserialize)]
pub struct ChunkView {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<ChoiceDeltaView>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Groq reports streamed usage here when `stream_options` is not honoured.
    #[serde(default)]
    pub x_groq: Option<GroqExtension>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GroqExtension {
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ChoiceDeltaView {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Option<DeltaView>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeltaView {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallDeltaView>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ToolCallDeltaView {
    #[serde(default)]
    pub function: Option<FunctionDeltaView>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FunctionDeltaView {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

impl ChunkView {
    /// Usage reported by this chunk, wherever the provider put it.
    pub fn reported_usage(&self) -> Option<&Usage> {
        self.usage
            .as_ref()
            .or_else(|| self.x_groq.as_ref().and_then(|x| x.usage.as_ref()))
    }

    pub fn has_finish_reason(&self) -> bool {
        self.choices.iter().any(|c| c.finish_reason.is_some())
    }

    pub fn for_each_output_text(&self, mut f: impl FnMut(&str)) {
        for choice in &self.choices {
            let Some(delta) = &choice.delta else { continue };
            if let Some(content) = &delta.content {
                f(content);
            }
            if let Some(refusal) = &delta.refusal {
                f(refusal);
            }
            for call in delta.tool_calls.iter().flatten() {
                if let Some(function) = &call.function {
                    if let Some(name) = &function.name {
                        f(name);
                    }
                    if let Some(arguments) = &function.arguments {
                        f(arguments);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_missing_fields_openai_requires_gains_them_as_null() {
        let sparse = r#"{"id":"x","created":1,"model":"m","choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}]}"#;
        let completion: ChatCompletion = serde_json::from_str(sparse).unwrap();
        let v = serde_json::to_value(&completion).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert!(v["choices"][0]["logprobs"].is_null() && v["choices"][0].get("logprobs").is_some());
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert!(v["choices"][0]["message"].get("refusal").is_some());
    }
}
