//! Validation of the `messages` of a Chat Completions request: roles, content parts,
//! assistant tool calls, and the pairing of tool calls with tool results.

use serde_json::Value;

use super::{
    error::ApiError,
    params::{self, Object, get, param, reject_unknown},
};
use crate::content::estimate_tokens;

const ROLES: &[&str] = &[
    "system",
    "assistant",
    "user",
    "function",
    "tool",
    "developer",
];
const PART_TYPES: &[&str] = &["text", "image_url", "input_audio", "refusal", "file"];
/// Rough prompt cost of a non-text content part (image, audio, file).
const MEDIA_PART_TOKENS: u64 = 85;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    Function,
}

pub(super) struct Message {
    pub role: Role,
    /// The text parts, joined by newlines.
    pub text: String,
    /// Estimated prompt tokens, including the per-message overhead.
    pub tokens: u64,
    tool_call_ids: Vec<String>,
    tool_call_id: Option<String>,
}

impl Message {
    pub(super) fn parse(index: usize, value: &Value) -> Result<Self, ApiError> {
        let at = format!("messages[{index}]");
        let obj = value
            .as_object()
            .ok_or_else(|| ApiError::invalid_type(&at, "an object", value))?;
        let role = match params::required_string(obj, &at, "role")? {
            "system" => Role::System,
            "developer" => Role::Developer,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            "function" => Role::Function,
            other => return Err(ApiError::invalid_value(&param(&at, "role"), other, ROLES)),
        };
        let (known, part_types): (&[&str], &[&str]) = match role {
            Role::System | Role::Developer => (&["role", "content", "name"], &["text"]),
            Role::User => (
                &["role", "content", "name"],
                &["text", "image_url", "input_audio", "file"],
            ),
            Role::Assistant => (
                &[
                    "role",
                    "content",
                    "name",
                    "tool_calls",
                    "function_call",
                    "refusal",
                    "audio",
                ],
                &["text", "refusal"],
            ),
            Role::Tool => (&["role", "content", "tool_call_id"], &["text"]),
            Role::Function => (&["role", "content", "name"], &[]),
        };
        reject_unknown(obj, &at, known)?;
        if role == Role::Function {
            params::required_string(obj, &at, "name")?;
        } else {
            params::string(obj, &at, "name")?;
        }
        let tool_call_id = match role {
            Role::Tool => Some(params::required_string(obj, &at, "tool_call_id")?.to_owned()),
            _ => None,
        };
        let (tool_call_ids, call_tokens) = assistant_calls(obj, &at)?;
        params::string(obj, &at, "refusal")?;
        params::object(obj, &at, "audio")?;
        let may_omit_content = match role {
            Role::Assistant => ["tool_calls", "function_call", "refusal", "audio"]
                .iter()
                .any(|key| get(obj, key).is_some()),
            Role::Function => true,
            _ => false,
        };
        let content_at = param(&at, "content");
        let (text, media_tokens) = match obj.get("content") {
            Some(Value::String(text)) => (text.clone(), 0),
            Some(Value::Array(parts)) if !part_types.is_empty() => {
                content_parts(parts, &content_at, part_types)?
            }
            None | Some(Value::Null) if may_omit_content => (String::new(), 0),
            None => return Err(ApiError::missing(&content_at)),
            Some(Value::Null) => {
                return Err(ApiError::invalid(
                    "Invalid value for 'content': expected a string, got null.",
                    Some(&content_at),
                    None,
                ));
            }
            Some(other) if part_types.is_empty() => {
                return Err(ApiError::invalid_type(&content_at, "a string", other));
            }
            Some(other) => {
                return Err(ApiError::invalid_type(
                    &content_at,
                    "one of a string or array of objects",
                    other,
                ));
            }
        };
        Ok(Self {
            role,
            tokens: 3 + estimate_tokens(&text) + media_tokens + call_tokens,
            text,
            tool_call_ids,
            tool_call_id,
        })
    }
}

/// The text of `parts` joined by newlines, and the token cost of the other parts.
fn content_parts(parts: &[Value], at: &str, allowed: &[&str]) -> Result<(String, u64), ApiError> {
    if parts.is_empty() {
        return Err(ApiError::empty_array(at));
    }
    let mut texts = Vec::new();
    let mut tokens = 0;
    for (index, part) in parts.iter().enumerate() {
        let at = format!("{at}[{index}]");
        let obj = part
            .as_object()
            .ok_or_else(|| ApiError::invalid_type(&at, "an object", part))?;
        let kind = params::one_of(obj, &at, "type", PART_TYPES)?
            .ok_or_else(|| ApiError::missing(&param(&at, "type")))?;
        if !allowed.contains(&kind) {
            return Err(ApiError::invalid_value(&param(&at, "type"), kind, allowed));
        }
        reject_unknown(obj, &at, &["type", kind])?;
        match kind {
            "text" => texts.push(params::required_string(obj, &at, "text")?),
            "refusal" => tokens += estimate_tokens(params::required_string(obj, &at, "refusal")?),
            _ => {
                let inner_at = param(&at, kind);
                let inner =
                    params::object(obj, &at, kind)?.ok_or_else(|| ApiError::missing(&inner_at))?;
                check_media(kind, inner, &inner_at)?;
                tokens += MEDIA_PART_TOKENS;
            }
        }
    }
    Ok((texts.join("\n"), tokens))
}

fn check_media(kind: &str, obj: &Object, at: &str) -> Result<(), ApiError> {
    match kind {
        "image_url" => {
            reject_unknown(obj, at, &["url", "detail"])?;
            params::required_string(obj, at, "url")?;
            params::one_of(obj, at, "detail", &["auto", "low", "high"])?;
        }
        "input_audio" => {
            reject_unknown(obj, at, &["data", "format"])?;
            params::required_string(obj, at, "data")?;
            params::one_of(obj, at, "format", &["wav", "mp3"])?
                .ok_or_else(|| ApiError::missing(&param(at, "format")))?;
        }
        _ => {
            reject_unknown(obj, at, &["file_data", "file_id", "filename"])?;
            for key in ["file_data", "file_id", "filename"] {
                params::string(obj, at, key)?;
            }
        }
    }
    Ok(())
}

/// The ids of an assistant message's `tool_calls` and the token cost of its calls.
fn assistant_calls(obj: &Object, at: &str) -> Result<(Vec<String>, u64), ApiError> {
    let mut ids = Vec::new();
    let mut tokens = 0;
    if let Some(calls) = params::array(obj, at, "tool_calls")? {
        let calls_at = param(at, "tool_calls");
        if calls.is_empty() {
            return Err(ApiError::empty_array(&calls_at));
        }
        for (index, call) in calls.iter().enumerate() {
            let at = format!("{calls_at}[{index}]");
            let call = call
                .as_object()
                .ok_or_else(|| ApiError::invalid_type(&at, "an object", call))?;
            reject_unknown(call, &at, &["id", "type", "function"])?;
            ids.push(params::required_string(call, &at, "id")?.to_owned());
            params::one_of(call, &at, "type", &["function"])?
                .ok_or_else(|| ApiError::missing(&param(&at, "type")))?;
            tokens += called_function(call, &at, "function")?;
        }
    }
    if get(obj, "function_call").is_some() {
        tokens += called_function(obj, at, "function_call")?;
    }
    Ok((ids, tokens))
}

/// Validates a `{name, arguments}` object and returns its token cost.
fn called_function(obj: &Object, at: &str, key: &str) -> Result<u64, ApiError> {
    let function = params::object(obj, at, key)?;
    let at = param(at, key);
    let function = function.ok_or_else(|| ApiError::missing(&at))?;
    reject_unknown(function, &at, &["name", "arguments"])?;
    let name = params::required_string(function, &at, "name")?;
    let arguments = params::required_string(function, &at, "arguments")?;
    Ok(3 + estimate_tokens(name) + estimate_tokens(arguments))
}

/// OpenAI requires each assistant `tool_calls` message to be followed by one tool message
/// per call, and tool messages to answer such a message.
pub(super) fn check_tool_sequence(messages: &[Message]) -> Result<(), ApiError> {
    let unanswered = |open: &[&str]| {
        ApiError::invalid(
            format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each \
                 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                open.join(", ")
            ),
            Some("messages"),
            None,
        )
    };
    let mut calls: &[String] = &[];
    let mut open: Vec<&str> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        if let (Role::Tool, Some(id)) = (message.role, &message.tool_call_id) {
            if calls.is_empty() {
                // "preceeding" (sic) is OpenAI's wording.
                return Err(ApiError::invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with \
                     'tool_calls'.",
                    Some(&format!("messages[{index}].role")),
                    None,
                ));
            }
            if !calls.contains(id) {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid parameter: 'tool_call_id' of '{id}' not found in 'tool_calls' of previous message."
                    ),
                    Some(&format!("messages[{index}].tool_call_id")),
                    None,
                ));
            }
            open.retain(|open_id| open_id != id);
            continue;
        }
        if !open.is_empty() {
            return Err(unanswered(&open));
        }
        calls = &message.tool_call_ids;
        open = calls.iter().map(String::as_str).collect();
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(unanswered(&open))
    }
}
