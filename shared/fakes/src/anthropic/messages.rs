//! The `messages` of a Messages request: typed content blocks, checked as Anthropic's spec
//! closes them, and the conversation rules its API enforces beyond the schema (tool results
//! right after the tool calls they answer, tools defined when tool blocks are used, no empty
//! messages but a final assistant prefill).

use serde_json::Value;

use super::{
    error::ApiError,
    fields::{closed, join, optional_bool, required_string},
};

const IMAGE_MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// One validated message, as much of it as the reply and the conversation rules need.
pub(super) struct Turn {
    pub role: String,
    /// Prompt text of the turn, tool results included.
    pub text: String,
    tool_uses: Vec<String>,
    /// The ids of the tool calls this turn answers.
    pub tool_results: Vec<String>,
    pub images: u64,
    empty: bool,
}

pub(super) fn text_block(block: &Value, at: &str) -> Result<String, ApiError> {
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

pub(super) fn turn(index: usize, message: &Value) -> Result<Turn, ApiError> {
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
pub(super) fn check_conversation(turns: &[Turn], has_tools: bool) -> Result<(), ApiError> {
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
