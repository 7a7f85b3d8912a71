//! OpenAI chat request → Anthropic Messages request.
//!
//! Anthropic takes the system prompt as a top-level field, strictly alternating `user` and
//! `assistant` turns made of typed blocks, tool results as blocks of a user turn, and a
//! required `max_tokens`. Everything OpenAI expresses another way is translated here; what has
//! no faithful equivalent is refused with a 400 naming the parameter, never silently dropped.

use gateway_core::upstream::ProviderError;
use gateway_core::wire::{
    AssistantMessage, ChatRequest, Content, ContentPart, Message, ResponseFormat, Tool, ToolChoice,
    ToolChoiceMode,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::translate::{ImageSource, image_source};

/// Anthropic's largest accepted temperature (OpenAI's goes to 2).
const MAX_TEMPERATURE: f64 = 1.0;
/// `metadata.user_id` is at most this many characters.
const MAX_USER_ID_CHARS: usize = 512;

/// OpenAI-platform parameters that do not change the answer; Anthropic has no field for them.
const BOOKKEEPING: &[&str] = &[
    "store",
    "metadata",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
];

/// The body of `POST /v1/messages`.
#[derive(Debug, Clone, Serialize)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: u64,
    pub messages: Vec<Turn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolDefinition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_config: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub user_id: String,
}

/// One conversational turn.
#[derive(Debug, Clone, Serialize)]
pub struct Turn {
    pub role: Role,
    pub content: Vec<Block>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Image {
        source: ImageBlockSource,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<Vec<Block>>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageBlockSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolDefinition {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// Translates a validated OpenAI request. `default_max_tokens` is used when the client set no
/// limit (Anthropic requires one).
pub fn to_messages_request(
    request: &ChatRequest,
    default_max_tokens: u64,
    stream: bool,
) -> Result<MessagesRequest, ProviderError> {
    refuse_unmappable(request)?;
    let (system, messages) = conversation(&request.messages)?;
    let tools = tools(request)?;
    Ok(MessagesRequest {
        model: request.model.clone(),
        max_tokens: max_tokens(request, default_max_tokens)?,
        messages,
        system,
        stop_sequences: request
            .stop
            .as_ref()
            .map(|s| s.as_slice().to_vec())
            .filter(|s| !s.is_empty()),
        stream: stream.then_some(true),
        temperature: temperature(request)?,
        top_p: request.top_p,
        metadata: metadata(request)?,
        tool_choice: tool_choice(request, tools.is_some())?,
        tools,
        output_config: output_config(request)?,
    })
}

/// Parameters that change the answer in ways Anthropic cannot reproduce.
fn refuse_unmappable(request: &ChatRequest) -> Result<(), ProviderError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(ProviderError::unsupported(
            "n",
            "Anthropic returns one choice per request: `n` must be 1.",
        ));
    }
    if request.seed.is_some() {
        return Err(ProviderError::unsupported(
            "seed",
            "Anthropic does not support `seed`; its sampling cannot be made reproducible.",
        ));
    }
    for (param, asked) in [
        ("logprobs", request.logprobs == Some(true)),
        ("top_logprobs", request.top_logprobs.is_some_and(|n| n > 0)),
    ] {
        if asked {
            return Err(ProviderError::unsupported(
                param,
                "Anthropic does not return log probabilities.",
            ));
        }
    }
    for (param, value) in [
        ("presence_penalty", request.presence_penalty),
        ("frequency_penalty", request.frequency_penalty),
    ] {
        if value.is_some_and(|v| v != 0.0) {
            return Err(ProviderError::unsupported(
                param,
                format!("Anthropic has no `{param}`."),
            ));
        }
    }
    if request.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
        return Err(ProviderError::unsupported(
            "logit_bias",
            "Anthropic does not support `logit_bias`.",
        ));
    }
    for (param, value) in &request.extra {
        if value.is_null() || BOOKKEEPING.contains(&param.as_str()) {
            continue;
        }
        if param == "modalities" && value == &json!(["text"]) {
            continue;
        }
        return Err(ProviderError::unsupported(
            param,
            format!("`{param}` is not supported by Anthropic."),
        ));
    }
    Ok(())
}

fn max_tokens(request: &ChatRequest, default: u64) -> Result<u64, ProviderError> {
    let (param, value) = match (request.max_completion_tokens, request.max_tokens) {
        (Some(v), _) => ("max_completion_tokens", v),
        (None, Some(v)) => ("max_tokens", v),
        (None, None) => return Ok(default),
    };
    u64::try_from(value).map_err(|_| {
        ProviderError::unsupported(param, format!("Anthropic takes a non-negative `{param}`."))
    })
}

fn temperature(request: &ChatRequest) -> Result<Option<f64>, ProviderError> {
    match request.temperature {
        Some(t) if t > MAX_TEMPERATURE => Err(ProviderError::unsupported(
            "temperature",
            format!("Anthropic accepts `temperature` between 0 and 1, got {t}."),
        )),
        other => Ok(other),
    }
}

fn metadata(request: &ChatRequest) -> Result<Option<Metadata>, ProviderError> {
    let Some(user) = &request.user else {
        return Ok(None);
    };
    if user.chars().count() > MAX_USER_ID_CHARS {
        return Err(ProviderError::unsupported(
            "user",
            format!("Anthropic takes a `user` of at most {MAX_USER_ID_CHARS} characters."),
        ));
    }
    Ok(Some(Metadata {
        user_id: user.clone(),
    }))
}

/// `json_schema` becomes Anthropic's structured output (`output_config.format`); `json_object`
/// has no equivalent (Anthropic constrains output only to a given schema) and is refused.
fn output_config(request: &ChatRequest) -> Result<Option<Value>, ProviderError> {
    match &request.response_format {
        None | Some(ResponseFormat::Text) => Ok(None),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema.schema.clone().ok_or_else(|| {
                ProviderError::unsupported(
                    "response_format.json_schema.schema",
                    "Anthropic needs the JSON Schema itself for structured output.",
                )
            })?;
            Ok(Some(
                json!({"format": {"type": "json_schema", "schema": schema}}),
            ))
        }
        Some(ResponseFormat::JsonObject) => Err(ProviderError::unsupported(
            "response_format",
            "Anthropic has no JSON mode without a schema; use `response_format` \
             `{\"type\": \"json_schema\", ...}` with the schema the answer must follow.",
        )),
    }
}

fn tools(request: &ChatRequest) -> Result<Option<Vec<ToolDefinition>>, ProviderError> {
    let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    tools
        .iter()
        .enumerate()
        .map(|(i, tool)| match tool {
            Tool::Function { function } => {
                let input_schema = match &function.parameters {
                    None => json!({"type": "object", "properties": {}}),
                    Some(Value::Object(schema)) => {
                        let mut schema = schema.clone();
                        schema
                            .entry("type")
                            .or_insert_with(|| Value::from("object"));
                        Value::Object(schema)
                    }
                    Some(_) => {
                        return Err(ProviderError::unsupported(
                            &format!("tools[{i}].function.parameters"),
                            "a function's `parameters` must be a JSON Schema object",
                        ));
                    }
                };
                Ok(ToolDefinition {
                    name: function.name.clone(),
                    description: function.description.clone(),
                    input_schema,
                    strict: function.strict,
                })
            }
            Tool::Custom { .. } => Err(ProviderError::unsupported(
                &format!("tools[{i}]"),
                "Anthropic takes function tools only, not custom tools.",
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `none`/`auto`/`required`/a named function become `none`/`auto`/`any`/`tool`;
/// `parallel_tool_calls: false` becomes `disable_parallel_tool_use`.
fn tool_choice(request: &ChatRequest, has_tools: bool) -> Result<Option<Value>, ProviderError> {
    let single = request.parallel_tool_calls == Some(false);
    let mut choice = match &request.tool_choice {
        None if has_tools && single => json!({"type": "auto"}),
        None => return Ok(None),
        Some(ToolChoice::Mode(ToolChoiceMode::None)) if !has_tools => return Ok(None),
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => return Ok(Some(json!({"type": "none"}))),
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) if !has_tools => return Ok(None),
        Some(_) if !has_tools => {
            return Err(ProviderError::unsupported(
                "tool_choice",
                "`tool_choice` asks for a tool call, but the request has no `tools`.",
            ));
        }
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => json!({"type": "auto"}),
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => json!({"type": "any"}),
        Some(ToolChoice::Object(object)) => {
            let name = (object.get("type").and_then(Value::as_str) == Some("function"))
                .then(|| object.get("function")?.get("name")?.as_str())
                .flatten()
                .ok_or_else(|| {
                    ProviderError::unsupported(
                        "tool_choice",
                        "Anthropic can be made to call one named function \
                         (`{\"type\": \"function\", \"function\": {\"name\": ...}}`), \
                         not this kind of `tool_choice`.",
                    )
                })?;
            json!({"type": "tool", "name": name})
        }
    };
    if single && let Some(object) = choice.as_object_mut() {
        object.insert("disable_parallel_tool_use".into(), Value::Bool(true));
    }
    Ok(Some(choice))
}

/// The system prompt and the alternating turns.
fn conversation(messages: &[Message]) -> Result<(Option<String>, Vec<Turn>), ProviderError> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let (role, blocks) = match message {
            Message::System(m) | Message::Developer(m) => {
                let text = instruction_text(&m.content, &at)?;
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            Message::User(m) => (Role::User, content_blocks(&m.content, &at)?),
            Message::Assistant(m) => (Role::Assistant, assistant_blocks(m, &at)?),
            Message::Tool(m) => {
                let content = match &m.content {
                    Content::Text(t) if t.is_empty() => None,
                    content => Some(content_blocks(content, &at)?).filter(|b| !b.is_empty()),
                };
                let block = Block::ToolResult {
                    tool_use_id: m.tool_call_id.clone(),
                    content,
                };
                (Role::User, vec![block])
            }
            Message::Function(_) => {
                return Err(ProviderError::unsupported(
                    &at,
                    "Anthropic does not take the deprecated `function` role; use `tool`.",
                ));
            }
        };
        match turns.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => turns.push(Turn {
                role,
                content: blocks,
            }),
        }
    }
    if let Some(i) = turns.iter().position(|t| t.content.is_empty()) {
        return Err(ProviderError::unsupported(
            "messages",
            format!(
                "Anthropic does not accept a turn without content (turn {i} after merging \
                 consecutive messages of the same role)."
            ),
        ));
    }
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    Ok((system, turns))
}

fn instruction_text(content: &Content, at: &str) -> Result<String, ProviderError> {
    if let Content::Parts(parts) = content
        && let Some(j) = parts
            .iter()
            .position(|p| !matches!(p, ContentPart::Text { .. }))
    {
        return Err(ProviderError::unsupported(
            &format!("{at}.content[{j}]"),
            "Anthropic's system prompt takes text only.",
        ));
    }
    Ok(content.joined_text())
}

/// Text and image blocks; empty text is left out (Anthropic rejects empty text blocks).
fn content_blocks(content: &Content, at: &str) -> Result<Vec<Block>, ProviderError> {
    let parts = match content {
        Content::Text(text) if text.is_empty() => return Ok(Vec::new()),
        Content::Text(text) => return Ok(vec![Block::Text { text: text.clone() }]),
        Content::Parts(parts) => parts,
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let param = format!("{at}.content[{j}]");
        match part {
            ContentPart::Text { text, .. } | ContentPart::Refusal { refusal: text } => {
                if !text.is_empty() {
                    blocks.push(Block::Text { text: text.clone() });
                }
            }
            ContentPart::ImageUrl { image_url } => {
                let source = match image_source(&image_url.url, &param)? {
                    ImageSource::Inline(data) => ImageBlockSource::Base64 {
                        media_type: data.media_type.to_owned(),
                        data: data.base64.to_owned(),
                    },
                    ImageSource::Url(url) => ImageBlockSource::Url {
                        url: url.to_owned(),
                    },
                };
                blocks.push(Block::Image { source });
            }
            ContentPart::InputAudio { .. } | ContentPart::File { .. } => {
                return Err(ProviderError::unsupported(
                    &param,
                    "Anthropic's chat takes text and images only.",
                ));
            }
        }
    }
    Ok(blocks)
}

fn assistant_blocks(message: &AssistantMessage, at: &str) -> Result<Vec<Block>, ProviderError> {
    let mut blocks = match &message.content {
        Some(content) => content_blocks(content, at)?,
        None => Vec::new(),
    };
    if blocks.is_empty()
        && let Some(refusal) = message.refusal.as_ref().filter(|r| !r.is_empty())
    {
        blocks.push(Block::Text {
            text: refusal.clone(),
        });
    }
    for (j, call) in message.tool_calls.iter().flatten().enumerate() {
        let param = format!("{at}.tool_calls[{j}]");
        let function = call
            .function
            .as_ref()
            .filter(|_| call.kind == "function")
            .ok_or_else(|| {
                ProviderError::unsupported(&param, "Anthropic takes function tool calls only.")
            })?;
        let input = match function.arguments.trim() {
            "" => Value::Object(Map::new()),
            arguments => serde_json::from_str::<Value>(arguments)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    ProviderError::unsupported(
                        &format!("{param}.function.arguments"),
                        "tool call arguments must be a JSON object to be sent to Anthropic",
                    )
                })?,
        };
        blocks.push(Block::ToolUse {
            id: call.id.clone(),
            name: function.name.clone(),
            input,
        });
    }
    Ok(blocks)
}
