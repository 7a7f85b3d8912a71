//! OpenAI chat requests written as Cohere v2 `/v2/chat` bodies.
//!
//! Cohere's request schema (`specs/cohere/openapi.yaml`, `/v2/chat`) differs from OpenAI's in
//! names (`p` for `top_p`, `stop_sequences`), ranges (temperature, `p` and the penalties run
//! from 0 to 1) and vocabulary (`tool_choice` is `REQUIRED`/`NONE`). What has an equivalent is
//! translated; what would change the answer and has none is refused with a 400 naming the
//! parameter; OpenAI-platform bookkeeping that does not change the answer is dropped.

use gateway_core::upstream::ProviderError;
use gateway_core::wire::{
    AssistantMessage, ChatRequest, Content, ContentPart, Message, ResponseFormat, Tool, ToolChoice,
    ToolChoiceMode,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::translate::image_source;

/// OpenAI-platform parameters that do not change the answer; Cohere has no use for them.
const BOOKKEEPING: &[&str] = &[
    "store",
    "metadata",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
];

/// Cohere's own chat parameters, accepted as extensions and passed on unchanged.
pub(crate) const NATIVE: &[&str] = &[
    "k",
    "documents",
    "citation_options",
    "safety_mode",
    "strict_tools",
    "thinking",
    "priority",
];

/// The closest `p` Cohere accepts to OpenAI's `top_p` (Cohere: 0.01 to 0.99).
const P_RANGE: (f64, f64) = (0.01, 0.99);

#[derive(Debug, Serialize)]
pub(crate) struct ChatBody {
    pub model: String,
    pub messages: Vec<CohereMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_tools: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// Cohere's own parameters ([`NATIVE`]) sent by the client as extensions.
    #[serde(flatten)]
    pub native: Map<String, Value>,
}

/// One turn of a Cohere conversation.
#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub(crate) enum CohereMessage {
    System {
        content: String,
    },
    User {
        content: UserContent,
    },
    Assistant {
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<Value>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum UserContent {
    Text(String),
    Parts(Vec<Value>),
}

/// The Cohere body for `request` (`stream` set for `/v2/chat` streaming).
pub(crate) fn chat_body(request: ChatRequest, stream: bool) -> Result<ChatBody, ProviderError> {
    refuse_unsupported(&request)?;
    let native = native_parameters(&request.extra)?;
    let (tools, tool_choice, mut strict_tools) = tools(&request)?;
    if native.contains_key("strict_tools") {
        // The client's own `strict_tools` wins over the one read from the tools' `strict`.
        strict_tools = None;
    }
    Ok(ChatBody {
        messages: messages(&request.messages)?,
        stream: stream.then_some(true),
        tools,
        tool_choice,
        strict_tools,
        response_format: request.response_format.as_ref().and_then(response_format),
        max_tokens: max_tokens(&request)?,
        stop_sequences: request.stop.as_ref().map(|s| s.as_slice().to_vec()),
        temperature: in_unit_range("temperature", request.temperature)?,
        seed: seed(request.seed)?,
        frequency_penalty: in_unit_range("frequency_penalty", request.frequency_penalty)?,
        presence_penalty: in_unit_range("presence_penalty", request.presence_penalty)?,
        p: request.top_p.map(|p| p.clamp(P_RANGE.0, P_RANGE.1)),
        logprobs: request.logprobs.filter(|l| *l),
        native,
        model: request.model,
    })
}

fn refuse_unsupported(request: &ChatRequest) -> Result<(), ProviderError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(ProviderError::unsupported(
            "n",
            "Cohere answers with one choice only; `n` must be 1.",
        ));
    }
    if request.top_logprobs.is_some_and(|n| n > 0) {
        return Err(ProviderError::unsupported(
            "top_logprobs",
            "Cohere reports the log probability of each generated token only; `top_logprobs` is not supported.",
        ));
    }
    if request.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
        return Err(ProviderError::unsupported(
            "logit_bias",
            "`logit_bias` is not supported by Cohere.",
        ));
    }
    if request.parallel_tool_calls == Some(false) {
        return Err(ProviderError::unsupported(
            "parallel_tool_calls",
            "Cohere cannot be kept from calling several tools at once; `parallel_tool_calls: false` is not supported.",
        ));
    }
    Ok(())
}

/// Cohere's own parameters pass; bookkeeping is dropped; anything else is refused by name.
fn native_parameters(extra: &Map<String, Value>) -> Result<Map<String, Value>, ProviderError> {
    let mut native = Map::new();
    for (name, value) in extra {
        if value.is_null() || BOOKKEEPING.contains(&name.as_str()) {
            continue;
        }
        if name == "modalities" && value == &json!(["text"]) {
            continue;
        }
        if NATIVE.contains(&name.as_str()) {
            native.insert(name.clone(), value.clone());
            continue;
        }
        return Err(ProviderError::unsupported(
            name,
            format!("`{name}` is not supported by Cohere."),
        ));
    }
    Ok(native)
}

fn messages(messages: &[Message]) -> Result<Vec<CohereMessage>, ProviderError> {
    messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            let param = format!("messages[{i}]");
            Ok(match message {
                Message::System(m) | Message::Developer(m) => CohereMessage::System {
                    content: text_only(&m.content, &param)?,
                },
                Message::User(m) => CohereMessage::User {
                    content: user_content(&m.content, &param)?,
                },
                Message::Assistant(m) => assistant(m, &param)?,
                Message::Tool(m) => CohereMessage::Tool {
                    tool_call_id: m.tool_call_id.clone(),
                    content: text_only(&m.content, &param)?,
                },
                Message::Function(_) => {
                    return Err(ProviderError::unsupported(
                        &param,
                        "Cohere does not take the deprecated `function` role; send tool calls and `tool` messages.",
                    ));
                }
            })
        })
        .collect()
}

/// Text content; Cohere takes images in user messages only.
fn text_only(content: &Content, param: &str) -> Result<String, ProviderError> {
    if let Content::Parts(parts) = content {
        for (j, part) in parts.iter().enumerate() {
            if !matches!(part, ContentPart::Text { .. } | ContentPart::Refusal { .. }) {
                return Err(ProviderError::unsupported(
                    &format!("{param}.content[{j}]"),
                    "Cohere takes only text in system, assistant and tool messages.",
                ));
            }
        }
    }
    Ok(content.joined_text())
}

fn user_content(content: &Content, param: &str) -> Result<UserContent, ProviderError> {
    let parts = match content {
        Content::Text(text) => return Ok(UserContent::Text(text.clone())),
        Content::Parts(parts) => parts,
    };
    parts
        .iter()
        .enumerate()
        .map(|(j, part)| {
            let param = format!("{param}.content[{j}]");
            match part {
                ContentPart::Text { text, .. } => Ok(json!({"type": "text", "text": text})),
                ContentPart::ImageUrl { image_url } => {
                    // Cohere takes the URL itself, a data URL or an http(s) one; anything
                    // else is refused here rather than by Cohere.
                    image_source(&image_url.url, &param)?;
                    let mut image = json!({"url": image_url.url});
                    if let Some(detail) = &image_url.detail {
                        image["detail"] = Value::from(detail.as_str());
                    }
                    Ok(json!({"type": "image_url", "image_url": image}))
                }
                ContentPart::Refusal { refusal } => Ok(json!({"type": "text", "text": refusal})),
                ContentPart::InputAudio { .. } | ContentPart::File { .. } => {
                    Err(ProviderError::unsupported(
                        &param,
                        "Cohere takes text and images only; audio and file parts are not supported.",
                    ))
                }
            }
        })
        .collect::<Result<_, _>>()
        .map(UserContent::Parts)
}

fn assistant(m: &AssistantMessage, param: &str) -> Result<CohereMessage, ProviderError> {
    let mut content = m
        .content
        .as_ref()
        .map(|c| text_only(c, param))
        .transpose()?
        .filter(|c| !c.is_empty());
    if content.is_none() {
        content = m.refusal.clone();
    }
    let tool_calls = m
        .tool_calls
        .iter()
        .flatten()
        .enumerate()
        .map(|(j, call)| {
            let function = call.function.as_ref().ok_or_else(|| {
                ProviderError::unsupported(
                    &format!("{param}.tool_calls[{j}]"),
                    "Cohere takes function tool calls only.",
                )
            })?;
            Ok(json!({
                "id": call.id,
                "type": "function",
                "function": {"name": function.name, "arguments": function.arguments},
            }))
        })
        .collect::<Result<Vec<_>, ProviderError>>()?;
    Ok(CohereMessage::Assistant {
        content,
        tool_calls,
    })
}

type Tools = (Option<Vec<Value>>, Option<&'static str>, Option<bool>);

/// Tools, `tool_choice` and `strict_tools`. A named `tool_choice` has no Cohere equivalent of
/// its own; it becomes `REQUIRED` with only that tool offered, which forces the same call.
fn tools(request: &ChatRequest) -> Result<Tools, ProviderError> {
    let mut tools = Vec::new();
    let mut strict = false;
    for (i, tool) in request.tools.iter().flatten().enumerate() {
        let Tool::Function { function } = tool else {
            return Err(ProviderError::unsupported(
                &format!("tools[{i}]"),
                "Cohere takes function tools only.",
            ));
        };
        strict |= function.strict == Some(true);
        let mut definition = json!({
            "name": function.name,
            "parameters": function
                .parameters
                .clone()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        });
        if let Some(description) = &function.description {
            definition["description"] = Value::from(description.as_str());
        }
        tools.push((
            function.name.as_str(),
            json!({"type": "function", "function": definition}),
        ));
    }
    let choice = match &request.tool_choice {
        None | Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => None,
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => Some("NONE"),
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => Some("REQUIRED"),
        Some(ToolChoice::Object(object)) => {
            let name = object
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|_| object.get("type").and_then(Value::as_str) == Some("function"))
                .ok_or_else(|| {
                    ProviderError::unsupported(
                        "tool_choice",
                        "Cohere takes `tool_choice` as \"none\", \"auto\", \"required\" or one named function.",
                    )
                })?;
            if !tools.iter().any(|(n, _)| *n == name) {
                return Err(ProviderError::unsupported(
                    "tool_choice",
                    format!("`tool_choice` names `{name}`, which is not among `tools`."),
                ));
            }
            tools.retain(|(n, _)| *n == name);
            Some("REQUIRED")
        }
    };
    if tools.is_empty() {
        // Cohere refuses a `tool_choice` without tools; without tools there is nothing to choose.
        return Ok((None, None, None));
    }
    Ok((
        Some(tools.into_iter().map(|(_, t)| t).collect()),
        choice,
        strict.then_some(true),
    ))
}

fn response_format(format: &ResponseFormat) -> Option<Value> {
    match format {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(json!({"type": "json_object"})),
        ResponseFormat::JsonSchema { json_schema } => Some(match &json_schema.schema {
            Some(schema) => json!({"type": "json_object", "json_schema": schema}),
            None => json!({"type": "json_object"}),
        }),
    }
}

fn max_tokens(request: &ChatRequest) -> Result<Option<i64>, ProviderError> {
    let (param, value) = match (request.max_completion_tokens, request.max_tokens) {
        (Some(v), _) => ("max_completion_tokens", Some(v)),
        (None, v) => ("max_tokens", v),
    };
    if value.is_some_and(|v| v < 1) {
        return Err(ProviderError::unsupported(
            param,
            format!("Cohere takes a positive `{param}`."),
        ));
    }
    Ok(value)
}

fn seed(seed: Option<i64>) -> Result<Option<i64>, ProviderError> {
    if seed.is_some_and(|s| s < 0) {
        return Err(ProviderError::unsupported(
            "seed",
            "Cohere takes a non-negative `seed`.",
        ));
    }
    Ok(seed)
}

/// Cohere's temperature and penalties run from 0 to 1; OpenAI's go further, and rescaling
/// would change what the client asked for.
fn in_unit_range(param: &str, value: Option<f64>) -> Result<Option<f64>, ProviderError> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => Err(ProviderError::unsupported(
            param,
            format!("Cohere takes `{param}` from 0 to 1 (got {v})."),
        )),
        v => Ok(v),
    }
}
