//! Validation of `POST /v1/messages` bodies, as strict as Anthropic's published spec
//! (`CreateMessageParams`: closed objects, required `max_tokens`, temperature up to 1, tools
//! and tool choice, structured output), producing the request a reply is generated from. The
//! `messages` themselves are checked in `messages`.

use std::collections::HashSet;

use serde_json::Value;

use super::{
    error::ApiError,
    fields::{Object, closed, join, number_in, optional_bool, required_string, string_array},
    messages::{check_conversation, text_block, turn},
};
use crate::{
    content::{estimate_tokens, fingerprint},
    directives::Directives,
};

const TOP_LEVEL: &[&str] = &[
    "model",
    "messages",
    "cache_control",
    "container",
    "inference_geo",
    "max_tokens",
    "metadata",
    "output_config",
    "service_tier",
    "stop_sequences",
    "stream",
    "system",
    "temperature",
    "thinking",
    "tool_choice",
    "tools",
    "top_k",
    "top_p",
];
/// Rough prompt cost of an image block.
const IMAGE_TOKENS: u64 = 85;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ToolChoice {
    Auto,
    Any,
    Tool(String),
    None,
}

pub(super) struct ToolDefinition {
    pub name: String,
    pub input_schema: Value,
}

/// A validated request: what shapes the reply.
pub(super) struct MessagesRequest {
    pub model: String,
    pub max_tokens: u64,
    pub stream: bool,
    pub stop_sequences: Vec<String>,
    pub tools: Vec<ToolDefinition>,
    pub tool_choice: ToolChoice,
    pub parallel_tool_use: bool,
    /// `output_config.format.schema`, when structured output was asked for.
    pub json_schema: Option<Value>,
    /// The text of the last user turn, or of the tool results it carries.
    pub last_user_text: String,
    /// Whether the last user turn answers tool calls.
    pub answering_tool: bool,
    pub directives: Directives,
    pub input_tokens: u64,
    /// Hash of everything that shapes the reply's content.
    pub fingerprint: u64,
}

impl MessagesRequest {
    pub(super) fn parse(body: &Value) -> Result<Self, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("The request body must be a JSON object."))?;
        if let Some(key) = obj.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
            return Err(ApiError::extra(key));
        }
        let model = required_string(obj, "", "model")?.to_owned();
        let max_tokens = match obj.get("max_tokens") {
            None => return Err(ApiError::missing("max_tokens")),
            Some(v) => v.as_u64().ok_or_else(|| {
                ApiError::at(
                    "max_tokens",
                    "Input should be a valid integer, greater than or equal to 0",
                )
            })?,
        };
        let stream = optional_bool(obj, "", "stream")?.unwrap_or(false);
        number_in(obj, "temperature", 0.0, 1.0)?;
        number_in(obj, "top_p", 0.0, 1.0)?;
        if let Some(v) = obj.get("top_k")
            && v.as_u64().is_none()
        {
            return Err(ApiError::at(
                "top_k",
                "Input should be a valid integer, greater than or equal to 0",
            ));
        }
        let stop_sequences = string_array(obj, "stop_sequences")?;
        let system = system_text(obj)?;
        metadata(obj)?;
        for key in ["container", "inference_geo"] {
            if let Some(v) = obj.get(key).filter(|v| !v.is_null() && !v.is_string()) {
                return Err(ApiError::at(
                    key,
                    &format!("Input should be a valid string, got {v}"),
                ));
            }
        }
        if let Some(tier) = obj.get("service_tier")
            && !matches!(tier.as_str(), Some("auto" | "standard_only"))
        {
            return Err(ApiError::at(
                "service_tier",
                "Input should be 'auto' or 'standard_only'",
            ));
        }
        for key in ["thinking", "cache_control"] {
            if let Some(v) = obj.get(key).filter(|v| !v.is_null() && !v.is_object()) {
                return Err(ApiError::at(
                    key,
                    &format!("Input should be an object, got {v}"),
                ));
            }
        }
        let tools = tools(obj)?;
        let (tool_choice, parallel_tool_use) = tool_choice(obj, &tools)?;
        let json_schema = output_config(obj)?;

        let raw_messages = match obj.get("messages") {
            None => return Err(ApiError::missing("messages")),
            Some(Value::Array(m)) => m,
            Some(_) => return Err(ApiError::at("messages", "Input should be a valid list")),
        };
        let turns = raw_messages
            .iter()
            .enumerate()
            .map(|(i, m)| turn(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        check_conversation(&turns, !tools.is_empty())?;

        let mut texts: Vec<&str> = vec![system.as_str()];
        texts.extend(turns.iter().map(|t| t.text.as_str()));
        let directives =
            Directives::parse(texts.iter().copied()).map_err(|e| ApiError::directive(&e))?;
        let images: u64 = turns.iter().map(|t| t.images).sum();
        let tools_json = obj.get("tools").map(Value::to_string).unwrap_or_default();
        let input_tokens = texts.iter().map(|t| estimate_tokens(t)).sum::<u64>()
            + estimate_tokens(&tools_json)
            + images * IMAGE_TOKENS
            + 1;
        let last_user = turns.iter().rev().find(|t| t.role == "user");
        let shaping = serde_json::json!([
            model,
            obj.get("system"),
            obj.get("messages"),
            obj.get("tools"),
            obj.get("output_config")
        ])
        .to_string();
        Ok(Self {
            model,
            max_tokens,
            stream,
            stop_sequences,
            tools,
            tool_choice,
            parallel_tool_use,
            json_schema,
            last_user_text: last_user.map(|t| t.text.clone()).unwrap_or_default(),
            answering_tool: last_user.is_some_and(|t| !t.tool_results.is_empty()),
            directives,
            input_tokens,
            fingerprint: fingerprint(&[shaping.as_bytes()]),
        })
    }
}

fn system_text(obj: &Object) -> Result<String, ApiError> {
    match obj.get("system") {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(blocks)) => {
            let mut text = String::new();
            for (i, block) in blocks.iter().enumerate() {
                text.push_str(&text_block(block, &format!("system.{i}"))?);
            }
            Ok(text)
        }
        Some(_) => Err(ApiError::at(
            "system",
            "Input should be a valid string or list",
        )),
    }
}

fn metadata(obj: &Object) -> Result<(), ApiError> {
    let Some(metadata) = obj.get("metadata") else {
        return Ok(());
    };
    let metadata = closed(metadata, "metadata", &["user_id"])?;
    match metadata.get("user_id") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.chars().count() <= 512 => Ok(()),
        Some(Value::String(_)) => Err(ApiError::at(
            "metadata.user_id",
            "String should have at most 512 characters",
        )),
        Some(_) => Err(ApiError::at(
            "metadata.user_id",
            "Input should be a valid string",
        )),
    }
}

fn tools(obj: &Object) -> Result<Vec<ToolDefinition>, ApiError> {
    let Some(tools) = obj.get("tools") else {
        return Ok(Vec::new());
    };
    let tools = tools
        .as_array()
        .ok_or_else(|| ApiError::at("tools", "Input should be a valid list"))?;
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools.{i}");
        let tool = closed(
            tool,
            &at,
            &[
                "type",
                "name",
                "description",
                "input_schema",
                "cache_control",
                "strict",
                "eager_input_streaming",
                "allowed_callers",
                "defer_loading",
                "input_examples",
            ],
        )?;
        // Anthropic's server tools (web search, code execution, ...) are not emulated.
        if let Some(kind) = tool.get("type").filter(|t| !t.is_null())
            && kind != "custom"
        {
            return Err(ApiError::at(
                &join(&at, "type"),
                "this fake serves custom (client) tools only",
            ));
        }
        let name = required_string(tool, &at, "name")?;
        let valid = (1..=128).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(ApiError::at(
                &join(&at, "name"),
                "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
            ));
        }
        if !names.insert(name.to_owned()) {
            return Err(ApiError::invalid("tools: Tool names must be unique."));
        }
        if let Some(d) = tool.get("description").filter(|d| !d.is_string()) {
            return Err(ApiError::at(
                &join(&at, "description"),
                &format!("Input should be a valid string, got {d}"),
            ));
        }
        optional_bool(tool, &at, "strict")?;
        let schema = tool
            .get("input_schema")
            .ok_or_else(|| ApiError::missing(&join(&at, "input_schema")))?;
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(ApiError::at(
                &join(&at, "input_schema.type"),
                "Input should be 'object'",
            ));
        }
        out.push(ToolDefinition {
            name: name.to_owned(),
            input_schema: schema.clone(),
        });
    }
    Ok(out)
}

fn tool_choice(obj: &Object, tools: &[ToolDefinition]) -> Result<(ToolChoice, bool), ApiError> {
    let Some(choice) = obj.get("tool_choice") else {
        return Ok((ToolChoice::Auto, true));
    };
    let kind = choice
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing("tool_choice.type"))?;
    let keys: &[&str] = match kind {
        "none" => &["type"],
        "auto" | "any" => &["type", "disable_parallel_tool_use"],
        "tool" => &["type", "name", "disable_parallel_tool_use"],
        other => {
            return Err(ApiError::at(
                "tool_choice",
                &format!(
                    "Input tag '{other}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
                ),
            ));
        }
    };
    let choice = closed(choice, "tool_choice", keys)?;
    let parallel =
        !optional_bool(choice, "tool_choice", "disable_parallel_tool_use")?.unwrap_or(false);
    let choice = match kind {
        "none" => ToolChoice::None,
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Any,
        _ => ToolChoice::Tool(required_string(choice, "tool_choice", "name")?.to_owned()),
    };
    match &choice {
        ToolChoice::Any | ToolChoice::Tool(_) if tools.is_empty() => Err(ApiError::invalid(
            "tool_choice: a tool must be used, but no tools were provided",
        )),
        ToolChoice::Tool(name) if !tools.iter().any(|t| &t.name == name) => Err(ApiError::invalid(
            format!("tool_choice: Tool '{name}' not found in provided tools"),
        )),
        _ => Ok((choice, parallel)),
    }
}

fn output_config(obj: &Object) -> Result<Option<Value>, ApiError> {
    let Some(config) = obj.get("output_config") else {
        return Ok(None);
    };
    let config = closed(config, "output_config", &["effort", "format"])?;
    let Some(format) = config.get("format").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let format = closed(format, "output_config.format", &["type", "schema"])?;
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return Err(ApiError::at(
            "output_config.format.type",
            "Input should be 'json_schema'",
        ));
    }
    match format.get("schema") {
        Some(schema @ Value::Object(_)) => Ok(Some(schema.clone())),
        Some(_) => Err(ApiError::at(
            "output_config.format.schema",
            "Input should be a valid dictionary",
        )),
        None => Err(ApiError::missing("output_config.format.schema")),
    }
}
