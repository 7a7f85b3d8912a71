//! Validation of `POST /v1/messages` bodies, as strict as Anthropic's published spec
//! (`CreateMessageParams`: closed objects, required `max_tokens`, temperature up to 1, typed
//! content blocks) and the API's documented conversation rules (tool results right after the
//! tool calls they answer, tools defined when tool blocks are used, no empty messages).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::error::ApiError;
use crate::{
    content::{estimate_tokens, fingerprint},
    directives::Directives,
};

type Object = Map<String, Value>;

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
const IMAGE_MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];
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

struct Turn {
    role: String,
    /// Prompt text of the turn, tool results included.
    text: String,
    tool_uses: Vec<String>,
    tool_results: Vec<String>,
    images: u64,
    empty: bool,
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

fn required_string<'a>(obj: &'a Object, at: &str, key: &str) -> Result<&'a str, ApiError> {
    let path = join(at, key);
    match obj.get(key) {
        None => Err(ApiError::missing(&path)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::at(&path, "Input should be a valid string")),
    }
}

fn optional_bool(obj: &Object, at: &str, key: &str) -> Result<Option<bool>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::at(
            &join(at, key),
            "Input should be a valid boolean",
        )),
    }
}

fn number_in(obj: &Object, key: &str, min: f64, max: f64) -> Result<(), ApiError> {
    let Some(value) = obj.get(key) else {
        return Ok(());
    };
    let n = value
        .as_f64()
        .ok_or_else(|| ApiError::at(key, "Input should be a valid number"))?;
    if n < min {
        return Err(ApiError::at(
            key,
            &format!("Input should be greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::at(
            key,
            &format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn string_array(obj: &Object, key: &str) -> Result<Vec<String>, ApiError> {
    match obj.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::at(&format!("{key}.{i}"), "Input should be a valid string")
                })
            })
            .collect(),
        Some(_) => Err(ApiError::at(key, "Input should be a valid list")),
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn closed<'a>(value: &'a Value, at: &str, keys: &[&str]) -> Result<&'a Object, ApiError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::at(at, "Input should be a valid dictionary or object"))?;
    if let Some(key) = obj.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(ApiError::extra(&join(at, key)));
    }
    Ok(obj)
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

fn text_block(block: &Value, at: &str) -> Result<String, ApiError> {
    let obj = closed(block, at, &["type", "text", "cache_control", "citations"])?;
    if obj.get("type").and_then(Value::as_str) != Some("text") {
        return Err(ApiError::at(at, "Input should be a text block"));
    }
    let text = required_string(obj, at, "text")?;
    if text.is_empty() {
        return Err(ApiError::at(
            &join(at, "text"),
            "String should have at least 1 character",
        ));
    }
    if text.trim().is_empty() {
        return Err(ApiError::at(
            at,
            "text content blocks must contain non-whitespace text",
        ));
    }
    Ok(text.to_owned())
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

fn turn(index: usize, message: &Value) -> Result<Turn, ApiError> {
    let at = format!("messages.{index}");
    let obj = closed(message, &at, &["role", "content"])?;
    let role = required_string(obj, &at, "role")?;
    if role != "user" && role != "assistant" {
        return Err(ApiError::at(
            &join(&at, "role"),
            "Input should be 'user' or 'assistant'",
        ));
    }
    let mut turn = Turn {
        role: role.to_owned(),
        text: String::new(),
        tool_uses: Vec::new(),
        tool_results: Vec::new(),
        images: 0,
        empty: false,
    };
    let blocks = match obj.get("content") {
        None => return Err(ApiError::missing(&join(&at, "content"))),
        Some(Value::String(text)) => {
            turn.empty = text.is_empty();
            turn.text = text.clone();
            return Ok(turn);
        }
        Some(Value::Array(blocks)) => blocks,
        Some(_) => {
            return Err(ApiError::at(
                &join(&at, "content"),
                "Input should be a valid string or list",
            ));
        }
    };
    turn.empty = blocks.is_empty();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content.{j}");
        match block.get("type").and_then(Value::as_str) {
            Some("text") => turn.text.push_str(&text_block(block, &at)?),
            Some("image") => {
                image_block(block, &at)?;
                turn.images += 1;
            }
            Some("tool_use") if role == "assistant" => {
                turn.tool_uses.push(tool_use_block(block, &at)?)
            }
            Some("tool_result") if role == "user" => {
                let (id, text) = tool_result_block(block, &at)?;
                turn.tool_results.push(id);
                turn.text.push_str(&text);
            }
            Some(kind @ ("tool_use" | "tool_result")) => {
                return Err(ApiError::at(
                    &at,
                    &format!("`{kind}` blocks are not allowed in `{role}` messages"),
                ));
            }
            Some(other) => {
                return Err(ApiError::at(
                    &at,
                    &format!(
                        "Input tag '{other}' found using 'type' is not supported by this fake (text, image, tool_use, tool_result)"
                    ),
                ));
            }
            None => return Err(ApiError::missing(&join(&at, "type"))),
        }
    }
    Ok(turn)
}

fn image_block(block: &Value, at: &str) -> Result<(), ApiError> {
    let obj = closed(block, at, &["type", "source", "cache_control"])?;
    let at = join(at, "source");
    let source = obj.get("source").ok_or_else(|| ApiError::missing(&at))?;
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let source = closed(source, &at, &["type", "media_type", "data"])?;
            let media = required_string(source, &at, "media_type")?;
            if !IMAGE_MEDIA_TYPES.contains(&media) {
                return Err(ApiError::at(
                    &join(&at, "media_type"),
                    "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
                ));
            }
            let data = required_string(source, &at, "data")?;
            use base64::Engine as _;
            if base64::engine::general_purpose::STANDARD
                .decode(data)
                .is_err()
            {
                return Err(ApiError::at(&join(&at, "data"), "Invalid base64 data"));
            }
            Ok(())
        }
        Some("url") => {
            let source = closed(source, &at, &["type", "url"])?;
            let url = required_string(source, &at, "url")?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ApiError::at(
                    &join(&at, "url"),
                    "Input should be a valid URL",
                ));
            }
            Ok(())
        }
        _ => Err(ApiError::at(
            &at,
            "Input tag found using 'type' does not match any of the expected tags: 'base64', 'url'",
        )),
    }
}

fn is_block_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn tool_use_block(block: &Value, at: &str) -> Result<String, ApiError> {
    let obj = closed(
        block,
        at,
        &["type", "id", "name", "input", "cache_control", "caller"],
    )?;
    let id = required_string(obj, at, "id")?;
    if !is_block_id(id) {
        return Err(ApiError::at(
            &join(at, "id"),
            "String should match pattern '^[a-zA-Z0-9_-]+$'",
        ));
    }
    let name = required_string(obj, at, "name")?;
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::at(
            &join(at, "name"),
            "String should have 1 to 200 characters",
        ));
    }
    match obj.get("input") {
        Some(Value::Object(_)) => Ok(id.to_owned()),
        Some(_) => Err(ApiError::at(
            &join(at, "input"),
            "Input should be a valid dictionary",
        )),
        None => Err(ApiError::missing(&join(at, "input"))),
    }
}

/// The answered call's id and the result's text.
fn tool_result_block(block: &Value, at: &str) -> Result<(String, String), ApiError> {
    let obj = closed(
        block,
        at,
        &[
            "type",
            "tool_use_id",
            "content",
            "is_error",
            "cache_control",
        ],
    )?;
    let id = required_string(obj, at, "tool_use_id")?;
    if !is_block_id(id) {
        return Err(ApiError::at(
            &join(at, "tool_use_id"),
            "String should match pattern '^[a-zA-Z0-9_-]+$'",
        ));
    }
    optional_bool(obj, at, "is_error")?;
    let text = match obj.get("content") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => {
            let mut text = String::new();
            for (k, inner) in blocks.iter().enumerate() {
                let at = format!("{at}.content.{k}");
                match inner.get("type").and_then(Value::as_str) {
                    Some("text") => text.push_str(&text_block(inner, &at)?),
                    Some("image") => image_block(inner, &at)?,
                    _ => {
                        return Err(ApiError::at(
                            &at,
                            "tool results carry text and image blocks",
                        ));
                    }
                }
            }
            text
        }
        Some(_) => {
            return Err(ApiError::at(
                &join(at, "content"),
                "Input should be a valid string or list",
            ));
        }
    };
    Ok((id.to_owned(), text))
}

/// The conversation rules Anthropic checks beyond the schema.
fn check_conversation(turns: &[Turn], has_tools: bool) -> Result<(), ApiError> {
    if turns.is_empty() {
        return Err(ApiError::at("messages", "at least one message is required"));
    }
    for (i, turn) in turns.iter().enumerate() {
        let last = i + 1 == turns.len();
        if turn.empty && !(last && turn.role == "assistant") {
            return Err(ApiError::at(
                &format!("messages.{i}"),
                "all messages must have non-empty content except for the optional final assistant message",
            ));
        }
        if !has_tools && (!turn.tool_uses.is_empty() || !turn.tool_results.is_empty()) {
            return Err(ApiError::invalid(
                "Requests which include `tool_use` or `tool_result` blocks must define tools.",
            ));
        }
        let previous_uses: &[String] = match i.checked_sub(1).and_then(|p| turns.get(p)) {
            Some(previous) if previous.role == "assistant" => &previous.tool_uses,
            _ => &[],
        };
        if let Some(unknown) = turn
            .tool_results
            .iter()
            .find(|id| !previous_uses.contains(id))
        {
            return Err(ApiError::at(
                &format!("messages.{i}.content"),
                &format!(
                    "unexpected `tool_use_id` found in `tool_result` blocks: {unknown}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                ),
            ));
        }
        if !turn.tool_uses.is_empty() {
            let answered = turns
                .get(i + 1)
                .map(|next| next.tool_results.as_slice())
                .unwrap_or(&[]);
            let missing: Vec<&str> = turn
                .tool_uses
                .iter()
                .filter(|id| !answered.contains(id))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() && !last {
                return Err(ApiError::at(
                    &format!("messages.{}", i + 1),
                    &format!(
                        "`tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                        missing.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}
