//! Validation of the `messages` of a Chat Completions request: roles, content parts,
//! assistant tool calls, and the pairing of tool calls with tool results. What each role
//! may carry is the dialect's [`MessageRules`].

use serde_json::Value;

use super::{
    error::ApiError,
    params::{self, Field, Object, check_fields, get, param, reject_unknown},
};
use crate::content::estimate_tokens;

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

/// What a dialect accepts in `messages`.
pub(super) struct MessageRules {
    /// Every role, in the order error messages list them.
    pub roles: &'static [RoleRule],
    /// Every content part type, in the order error messages list them.
    pub parts: &'static [PartRule],
    /// The items of an assistant message's `tool_calls`.
    pub calls: CallRules,
    /// Whether a tool message must name the call it answers.
    pub tool_call_id_required: bool,
}

/// What one role's messages may carry.
pub(super) struct RoleRule {
    pub name: &'static str,
    pub role: Role,
    /// Every key the message may have.
    pub keys: &'static [&'static str],
    /// Checks for the role's own keys (besides `role`, `content`, `name`, tool calls).
    pub extras: &'static [Field],
    /// Content part types allowed; empty when `content` must be a string.
    pub parts: &'static [&'static str],
    pub content: Presence,
}

/// Whether a message's `content` may be absent or `null`.
#[derive(Clone, Copy)]
pub(super) enum Presence {
    Required,
    /// Must be given, may be `null`.
    Nullable,
    Optional,
    /// May be absent or `null` when one of these keys is given.
    OptionalWith(&'static [&'static str]),
}

/// A content part type and its shape.
pub(super) struct PartRule {
    pub kind: &'static str,
    pub shape: PartShape,
}

pub(super) enum PartShape {
    /// `{"type": "text", "text": ...}`: prompt text.
    Text,
    /// `{"type": "refusal", "refusal": ...}`.
    Refusal,
    /// `{"type": K, K: {fields}}`, as OpenAI nests media.
    Nested(&'static [Field]),
    /// `{"type": K, fields...}`, as Mistral flattens its chunks.
    Flat(&'static [Field]),
}

/// The shape of the items of an assistant message's `tool_calls`.
pub(super) struct CallRules {
    pub keys: &'static [&'static str],
    pub id_required: bool,
    pub type_required: bool,
    /// Whether `function.arguments` may be a JSON object as well as a string.
    pub object_arguments: bool,
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
    pub(super) fn parse(
        index: usize,
        value: &Value,
        rules: &MessageRules,
    ) -> Result<Self, ApiError> {
        let at = format!("messages[{index}]");
        let obj = value
            .as_object()
            .ok_or_else(|| ApiError::invalid_type(&at, "an object", value))?;
        let name = params::required_string(obj, &at, "role")?;
        let Some(rule) = rules.roles.iter().find(|rule| rule.name == name) else {
            let roles: Vec<&str> = rules.roles.iter().map(|rule| rule.name).collect();
            return Err(ApiError::invalid_value(&param(&at, "role"), name, &roles));
        };
        let role = rule.role;
        reject_unknown(obj, &at, rule.keys)?;
        if role == Role::Function {
            params::required_string(obj, &at, "name")?;
        } else {
            params::string(obj, &at, "name")?;
        }
        let tool_call_id = match role {
            Role::Tool if rules.tool_call_id_required => {
                Some(params::required_string(obj, &at, "tool_call_id")?.to_owned())
            }
            Role::Tool => params::string(obj, &at, "tool_call_id")?.map(str::to_owned),
            _ => None,
        };
        let (tool_call_ids, call_tokens) = assistant_calls(obj, &at, &rules.calls)?;
        for field in rule.extras {
            field.apply(obj, &at)?;
        }
        let may_omit_content = match rule.content {
            Presence::Optional => true,
            Presence::OptionalWith(keys) => keys.iter().any(|key| get(obj, key).is_some()),
            Presence::Required | Presence::Nullable => false,
        };
        let may_be_null = may_omit_content || matches!(rule.content, Presence::Nullable);
        let content_at = param(&at, "content");
        let (text, media_tokens) = match obj.get("content") {
            Some(Value::String(text)) => (text.clone(), 0),
            Some(Value::Array(parts)) if !rule.parts.is_empty() => {
                content_parts(parts, &content_at, rule.parts, rules.parts)?
            }
            None if may_omit_content => (String::new(), 0),
            Some(Value::Null) if may_be_null => (String::new(), 0),
            None => return Err(ApiError::missing(&content_at)),
            Some(Value::Null) => {
                return Err(ApiError::invalid(
                    "Invalid value for 'content': expected a string, got null.",
                    Some(&content_at),
                    None,
                ));
            }
            Some(other) if rule.parts.is_empty() => {
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
fn content_parts(
    parts: &[Value],
    at: &str,
    allowed: &[&str],
    known: &[PartRule],
) -> Result<(String, u64), ApiError> {
    if parts.is_empty() {
        return Err(ApiError::empty_array(at));
    }
    let kinds: Vec<&str> = known.iter().map(|part| part.kind).collect();
    let mut texts = Vec::new();
    let mut tokens = 0;
    for (index, part) in parts.iter().enumerate() {
        let at = format!("{at}[{index}]");
        let obj = part
            .as_object()
            .ok_or_else(|| ApiError::invalid_type(&at, "an object", part))?;
        let kind = params::one_of(obj, &at, "type", &kinds)?
            .ok_or_else(|| ApiError::missing(&param(&at, "type")))?;
        if !allowed.contains(&kind) {
            return Err(ApiError::invalid_value(&param(&at, "type"), kind, allowed));
        }
        // `kind` is one of `known`, so the lookup cannot fail.
        let Some(rule) = known.iter().find(|part| part.kind == kind) else {
            continue;
        };
        match rule.shape {
            PartShape::Text => {
                reject_unknown(obj, &at, &["type", kind])?;
                texts.push(params::required_string(obj, &at, "text")?);
            }
            PartShape::Refusal => {
                reject_unknown(obj, &at, &["type", kind])?;
                tokens += estimate_tokens(params::required_string(obj, &at, kind)?);
            }
            PartShape::Nested(fields) => {
                reject_unknown(obj, &at, &["type", kind])?;
                let inner_at = param(&at, kind);
                let inner =
                    params::object(obj, &at, kind)?.ok_or_else(|| ApiError::missing(&inner_at))?;
                check_fields(inner, &inner_at, fields, &[])?;
                tokens += MEDIA_PART_TOKENS;
            }
            PartShape::Flat(fields) => {
                check_fields(obj, &at, fields, &["type"])?;
                tokens += MEDIA_PART_TOKENS;
            }
        }
    }
    Ok((texts.join("\n"), tokens))
}

/// The ids of an assistant message's `tool_calls` and the token cost of its calls.
fn assistant_calls(
    obj: &Object,
    at: &str,
    rules: &CallRules,
) -> Result<(Vec<String>, u64), ApiError> {
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
            reject_unknown(call, &at, rules.keys)?;
            let id = if rules.id_required {
                Some(params::required_string(call, &at, "id")?)
            } else {
                params::string(call, &at, "id")?
            };
            ids.extend(id.map(str::to_owned));
            let kind = params::one_of(call, &at, "type", &["function"])?;
            if kind.is_none() && rules.type_required {
                return Err(ApiError::missing(&param(&at, "type")));
            }
            params::integer(call, &at, "index", 0, i64::MAX)?;
            tokens += called_function(call, &at, "function", rules.object_arguments)?;
        }
    }
    if get(obj, "function_call").is_some() {
        tokens += called_function(obj, at, "function_call", false)?;
    }
    Ok((ids, tokens))
}

/// Validates a `{name, arguments}` object and returns its token cost.
fn called_function(
    obj: &Object,
    at: &str,
    key: &str,
    object_arguments: bool,
) -> Result<u64, ApiError> {
    let function = params::object(obj, at, key)?;
    let at = param(at, key);
    let function = function.ok_or_else(|| ApiError::missing(&at))?;
    reject_unknown(function, &at, &["name", "arguments"])?;
    let name = params::required_string(function, &at, "name")?;
    let arguments = match get(function, "arguments") {
        Some(Value::Object(arguments)) if object_arguments => {
            Value::Object(arguments.clone()).to_string()
        }
        _ => params::required_string(function, &at, "arguments")?.to_owned(),
    };
    Ok(3 + estimate_tokens(name) + estimate_tokens(&arguments))
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
