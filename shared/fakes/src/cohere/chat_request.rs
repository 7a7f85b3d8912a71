//! A `/v2/chat` request checked the way Cohere checks it (`specs/cohere/openapi.yaml`):
//! required fields, types, ranges and enums, closed objects (an unknown field is refused, so a
//! gateway that leaks an OpenAI parameter fails here), and tool results that answer a call the
//! assistant made.

use serde_json::{Map, Value};

use super::error::CohereError;
use crate::directives::Directives;

const TOP_LEVEL: &[&str] = &[
    "stream",
    "model",
    "messages",
    "tools",
    "strict_tools",
    "documents",
    "citation_options",
    "response_format",
    "safety_mode",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "k",
    "p",
    "logprobs",
    "tool_choice",
    "thinking",
    "priority",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug)]
pub(super) struct Message {
    pub role: Role,
    /// All the text the message carries (tool results included).
    pub text: String,
}

#[derive(Debug)]
pub(super) struct Tool {
    pub name: String,
    pub parameters: Value,
}

#[derive(Debug)]
pub(super) struct ChatRequest {
    pub model: String,
    pub stream: bool,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    /// `REQUIRED`, `NONE` or absent.
    pub tool_choice: Option<String>,
    /// `Some(schema)` for `json_object` (`Null` when no schema was given).
    pub json: Option<Value>,
    pub max_tokens: Option<usize>,
    pub stop_sequences: Vec<String>,
    pub logprobs: bool,
    pub directives: Directives,
}

type Checked<T> = Result<T, CohereError>;

impl ChatRequest {
    pub(super) fn parse(body: &Value) -> Checked<Self> {
        let obj = body
            .as_object()
            .ok_or_else(|| CohereError::invalid("body", "must be a JSON object"))?;
        closed(obj, TOP_LEVEL, "")?;
        let model = string(obj, "model", "")?
            .ok_or_else(|| CohereError::invalid("model", "is required"))?;
        let stream = boolean(obj, "stream", "")?.unwrap_or(false);
        let messages = obj
            .get("messages")
            .ok_or_else(|| CohereError::invalid("messages", "is required"))?
            .as_array()
            .ok_or_else(|| CohereError::invalid("messages", "must be an array"))?;
        if messages.is_empty() {
            return Err(CohereError::invalid("messages", "must not be empty"));
        }
        let messages = messages
            .iter()
            .enumerate()
            .map(|(i, m)| message(m, &format!("messages[{i}]")))
            .collect::<Checked<Vec<_>>>()?;
        tool_results_answer_calls(body)?;
        let tools = tools(obj)?;
        let tool_choice = match obj.get("tool_choice") {
            None => None,
            Some(Value::String(c)) if c == "REQUIRED" || c == "NONE" => Some(c.clone()),
            Some(_) => {
                return Err(CohereError::invalid(
                    "tool_choice",
                    "must be one of REQUIRED, NONE",
                ));
            }
        };
        if tool_choice.is_some() && tools.is_empty() {
            return Err(CohereError::invalid(
                "tool_choice",
                "requires `tools` to be passed",
            ));
        }
        boolean(obj, "strict_tools", "")?;
        boolean(obj, "logprobs", "")?;
        number(obj, "temperature", "", 0.0, 1.0)?;
        number(obj, "p", "", 0.01, 0.99)?;
        number(obj, "frequency_penalty", "", 0.0, 1.0)?;
        number(obj, "presence_penalty", "", 0.0, 1.0)?;
        integer(obj, "k", "", 0, 500)?;
        integer(obj, "seed", "", 0, i64::MAX)?;
        integer(obj, "priority", "", 0, 999)?;
        let max_tokens = integer(obj, "max_tokens", "", 1, i64::MAX)?.map(|n| n as usize);
        let stop_sequences = match obj.get("stop_sequences") {
            None => Vec::new(),
            Some(Value::Array(items)) if items.len() <= 5 => items
                .iter()
                .map(|s| {
                    s.as_str().map(str::to_owned).ok_or_else(|| {
                        CohereError::invalid("stop_sequences", "must be an array of strings")
                    })
                })
                .collect::<Checked<_>>()?,
            Some(_) => {
                return Err(CohereError::invalid(
                    "stop_sequences",
                    "must be an array of at most 5 strings",
                ));
            }
        };
        let json = response_format(obj)?;
        enumeration(obj, "safety_mode", "", &["CONTEXTUAL", "STRICT", "OFF"])?;
        if let Some(documents) = obj.get("documents")
            && !documents.is_array()
        {
            return Err(CohereError::invalid("documents", "must be an array"));
        }
        if let Some(options) = obj.get("citation_options") {
            let options = options
                .as_object()
                .ok_or_else(|| CohereError::invalid("citation_options", "must be an object"))?;
            closed(options, &["mode"], "citation_options.")?;
            enumeration(
                options,
                "mode",
                "citation_options.",
                &["ENABLED", "DISABLED", "FAST", "ACCURATE", "OFF"],
            )?;
        }
        if let Some(thinking) = obj.get("thinking") {
            let thinking = thinking
                .as_object()
                .ok_or_else(|| CohereError::invalid("thinking", "must be an object"))?;
            closed(thinking, &["type", "token_budget"], "thinking.")?;
            if enumeration(thinking, "type", "thinking.", &["enabled", "disabled"])?.is_none() {
                return Err(CohereError::invalid("thinking.type", "is required"));
            }
            integer(thinking, "token_budget", "thinking.", 1, i64::MAX)?;
        }
        let directives = Directives::parse(messages.iter().map(|m| m.text.as_str()))
            .map_err(|e| CohereError::directive(&e))?;
        Ok(Self {
            model,
            stream,
            messages,
            tools,
            tool_choice,
            json,
            max_tokens,
            stop_sequences,
            logprobs: obj.get("logprobs") == Some(&Value::Bool(true)),
            directives,
        })
    }

    /// The text of every message, for counting prompt tokens.
    pub(super) fn prompt_text(&self) -> String {
        self.messages
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn message(value: &Value, at: &str) -> Checked<Message> {
    let obj = value
        .as_object()
        .ok_or_else(|| CohereError::invalid(at, "must be an object"))?;
    let role = match obj.get("role").and_then(Value::as_str) {
        Some("system") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") => Role::Tool,
        _ => {
            return Err(CohereError::invalid(
                &format!("{at}.role"),
                "must be one of user, assistant, system, tool",
            ));
        }
    };
    let prefix = format!("{at}.");
    let (allowed, parts): (&[&str], &[&str]) = match role {
        Role::System => (&["role", "content"], &["text"]),
        Role::User => (&["role", "content"], &["text", "image_url"]),
        Role::Assistant => (
            &["role", "content", "tool_calls", "tool_plan", "citations"],
            &["text", "thinking"],
        ),
        Role::Tool => (&["role", "content", "tool_call_id"], &["text", "document"]),
    };
    closed(obj, allowed, &prefix)?;
    let content = obj.get("content");
    if content.is_none() && role != Role::Assistant {
        return Err(CohereError::invalid(
            &format!("{at}.content"),
            "is required",
        ));
    }
    let mut text = content
        .map(|c| content_text(c, parts, &format!("{at}.content")))
        .transpose()?
        .unwrap_or_default();
    match role {
        Role::Tool => {
            if string(obj, "tool_call_id", &prefix)?.is_none() {
                return Err(CohereError::invalid(
                    &format!("{at}.tool_call_id"),
                    "is required",
                ));
            }
        }
        Role::Assistant => {
            string(obj, "tool_plan", &prefix)?;
            let calls = obj.get("tool_calls");
            if let Some(calls) = calls {
                let calls = calls.as_array().ok_or_else(|| {
                    CohereError::invalid(&format!("{at}.tool_calls"), "must be an array")
                })?;
                for (j, call) in calls.iter().enumerate() {
                    text.push_str(&tool_call(call, &format!("{at}.tool_calls[{j}]"))?);
                }
            }
            if content.is_none() && calls.is_none() {
                return Err(CohereError::invalid(
                    at,
                    "an assistant message needs content or tool_calls",
                ));
            }
        }
        Role::System | Role::User => {}
    }
    Ok(Message { role, text })
}

/// The text of a string or an array of typed parts whose types are in `allowed`.
fn content_text(content: &Value, allowed: &[&str], at: &str) -> Checked<String> {
    let parts = match content {
        Value::String(s) => return Ok(s.clone()),
        Value::Array(parts) => parts,
        _ => return Err(CohereError::invalid(at, "must be a string or an array")),
    };
    let mut text = String::new();
    for (j, part) in parts.iter().enumerate() {
        let here = format!("{at}[{j}]");
        let obj = part
            .as_object()
            .ok_or_else(|| CohereError::invalid(&here, "must be an object"))?;
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        if !allowed.contains(&kind) {
            return Err(CohereError::invalid(
                &format!("{here}.type"),
                format!("must be one of {}", allowed.join(", ")),
            ));
        }
        let prefix = format!("{here}.");
        match kind {
            "text" => {
                closed(obj, &["type", "text"], &prefix)?;
                text.push_str(
                    &string(obj, "text", &prefix)?.ok_or_else(|| {
                        CohereError::invalid(&format!("{here}.text"), "is required")
                    })?,
                );
            }
            "thinking" => {
                closed(obj, &["type", "thinking"], &prefix)?;
                string(obj, "thinking", &prefix)?;
            }
            "image_url" => {
                closed(obj, &["type", "image_url"], &prefix)?;
                let image = obj
                    .get("image_url")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        CohereError::invalid(&format!("{here}.image_url"), "must be an object")
                    })?;
                let image_prefix = format!("{here}.image_url.");
                closed(image, &["url", "detail"], &image_prefix)?;
                let url = string(image, "url", &image_prefix)?.unwrap_or_default();
                if !(url.starts_with("https://")
                    || url.starts_with("http://")
                    || url.starts_with("data:image/"))
                {
                    return Err(CohereError::invalid(
                        &format!("{here}.image_url.url"),
                        "must be an http(s) URL or a base64 image data URL",
                    ));
                }
                enumeration(image, "detail", &image_prefix, &["auto", "low", "high"])?;
            }
            _ => {
                closed(obj, &["type", "document"], &prefix)?;
                let document = obj
                    .get("document")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        CohereError::invalid(&format!("{here}.document"), "must be an object")
                    })?;
                if !document.get("data").is_some_and(Value::is_object) {
                    return Err(CohereError::invalid(
                        &format!("{here}.document.data"),
                        "is required and must be an object",
                    ));
                }
                text.push_str(&Value::Object(document.clone()).to_string());
            }
        }
    }
    Ok(text)
}

/// An assistant's tool call; its name and arguments, as text.
fn tool_call(call: &Value, at: &str) -> Checked<String> {
    let obj = call
        .as_object()
        .ok_or_else(|| CohereError::invalid(at, "must be an object"))?;
    let prefix = format!("{at}.");
    closed(obj, &["id", "type", "function"], &prefix)?;
    if string(obj, "id", &prefix)?.is_none() {
        return Err(CohereError::invalid(&format!("{at}.id"), "is required"));
    }
    if enumeration(obj, "type", &prefix, &["function"])?.is_none() {
        return Err(CohereError::invalid(&format!("{at}.type"), "is required"));
    }
    let function = obj
        .get("function")
        .and_then(Value::as_object)
        .ok_or_else(|| CohereError::invalid(&format!("{at}.function"), "must be an object"))?;
    let fprefix = format!("{at}.function.");
    closed(function, &["name", "arguments"], &fprefix)?;
    let name = string(function, "name", &fprefix)?.unwrap_or_default();
    let arguments = string(function, "arguments", &fprefix)?.unwrap_or_default();
    if !arguments.is_empty() && serde_json::from_str::<Value>(&arguments).is_err() {
        return Err(CohereError::invalid(
            &format!("{at}.function.arguments"),
            "must be a JSON string",
        ));
    }
    Ok(format!("{name}{arguments}"))
}

/// Cohere refuses a tool result whose `tool_call_id` no earlier assistant call has.
fn tool_results_answer_calls(body: &Value) -> Checked<()> {
    let mut ids: Vec<&str> = Vec::new();
    for (i, message) in body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        match message["role"].as_str() {
            Some("assistant") => ids.extend(
                message["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["id"].as_str()),
            ),
            Some("tool") => {
                let id = message["tool_call_id"].as_str().unwrap_or_default();
                if !ids.contains(&id) {
                    return Err(CohereError::invalid(
                        &format!("messages[{i}].tool_call_id"),
                        format!("`{id}` does not match any earlier tool call"),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn tools(obj: &Map<String, Value>) -> Checked<Vec<Tool>> {
    let Some(tools) = obj.get("tools") else {
        return Ok(Vec::new());
    };
    let tools = tools
        .as_array()
        .ok_or_else(|| CohereError::invalid("tools", "must be an array"))?;
    tools
        .iter()
        .enumerate()
        .map(|(i, tool)| {
            let at = format!("tools[{i}]");
            let obj = tool
                .as_object()
                .ok_or_else(|| CohereError::invalid(&at, "must be an object"))?;
            closed(obj, &["type", "function"], &format!("{at}."))?;
            if enumeration(obj, "type", &format!("{at}."), &["function"])?.is_none() {
                return Err(CohereError::invalid(&format!("{at}.type"), "is required"));
            }
            let function = obj
                .get("function")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    CohereError::invalid(
                        &format!("{at}.function"),
                        "is required and must be an object",
                    )
                })?;
            let prefix = format!("{at}.function.");
            closed(function, &["name", "description", "parameters"], &prefix)?;
            let name = string(function, "name", &prefix)?
                .ok_or_else(|| CohereError::invalid(&format!("{prefix}name"), "is required"))?;
            string(function, "description", &prefix)?;
            let parameters = function
                .get("parameters")
                .filter(|p| p.is_object())
                .cloned()
                .ok_or_else(|| {
                    CohereError::invalid(
                        &format!("{prefix}parameters"),
                        "is required and must be an object",
                    )
                })?;
            Ok(Tool { name, parameters })
        })
        .collect()
}

fn response_format(obj: &Map<String, Value>) -> Checked<Option<Value>> {
    let Some(format) = obj.get("response_format") else {
        return Ok(None);
    };
    let format = format
        .as_object()
        .ok_or_else(|| CohereError::invalid("response_format", "must be an object"))?;
    closed(format, &["type", "json_schema"], "response_format.")?;
    match enumeration(format, "type", "response_format.", &["text", "json_object"])?.as_deref() {
        Some("text") if format.contains_key("json_schema") => Err(CohereError::invalid(
            "response_format.json_schema",
            "must not be set when the type is text",
        )),
        Some("text") => Ok(None),
        Some(_) => match format.get("json_schema") {
            None => Ok(Some(Value::Null)),
            Some(schema @ Value::Object(_)) => Ok(Some(schema.clone())),
            Some(_) => Err(CohereError::invalid(
                "response_format.json_schema",
                "must be an object",
            )),
        },
        None => Err(CohereError::invalid("response_format.type", "is required")),
    }
}

fn closed(obj: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Checked<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(CohereError::invalid(
            &format!("{prefix}{unknown}"),
            "unknown field",
        )),
        None => Ok(()),
    }
}

fn string(obj: &Map<String, Value>, key: &str, prefix: &str) -> Checked<Option<String>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CohereError::invalid(
            &format!("{prefix}{key}"),
            "must be a string",
        )),
    }
}

fn boolean(obj: &Map<String, Value>, key: &str, prefix: &str) -> Checked<Option<bool>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(CohereError::invalid(
            &format!("{prefix}{key}"),
            "must be a boolean",
        )),
    }
}

fn number(obj: &Map<String, Value>, key: &str, prefix: &str, min: f64, max: f64) -> Checked<()> {
    match obj.get(key) {
        None => Ok(()),
        Some(Value::Number(n)) if n.as_f64().is_some_and(|v| (min..=max).contains(&v)) => Ok(()),
        Some(_) => Err(CohereError::invalid(
            &format!("{prefix}{key}"),
            format!("must be a number from {min} to {max}"),
        )),
    }
}

fn integer(
    obj: &Map<String, Value>,
    key: &str,
    prefix: &str,
    min: i64,
    max: i64,
) -> Checked<Option<i64>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| (min..=max).contains(&v)) => {
            Ok(n.as_i64())
        }
        Some(_) => Err(CohereError::invalid(
            &format!("{prefix}{key}"),
            format!("must be an integer from {min} to {max}"),
        )),
    }
}

fn enumeration(
    obj: &Map<String, Value>,
    key: &str,
    prefix: &str,
    allowed: &[&str],
) -> Checked<Option<String>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(_) => Err(CohereError::invalid(
            &format!("{prefix}{key}"),
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}
