//! A Converse / ConverseStream request body, checked as Bedrock checks it: only the
//! members of `ConverseRequest`, roles alternating from a user turn, non-blank text, one
//! member per content block, known image formats, tool use only with a tool configuration,
//! tool results answering a tool use, inference settings in range.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::{
    aws::{AwsError, kind},
    content::fingerprint,
    directives::Directives,
};

const TOP_LEVEL: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "promptVariables",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
    "outputConfig",
];
const BLOCK_KINDS: &[&str] = &[
    "text",
    "image",
    "document",
    "video",
    "audio",
    "toolUse",
    "toolResult",
    "guardContent",
    "cachePoint",
    "reasoningContent",
    "citationsContent",
    "searchResult",
];
const IMAGE_FORMATS: &[&str] = &["png", "jpeg", "gif", "webp"];

/// What the fake needs from a valid request.
#[derive(Debug, Default)]
pub(super) struct Converse {
    pub model: String,
    /// The last user turn's text.
    pub prompt: String,
    /// The text of the tool results the last user turn carries, if it answers tool calls.
    pub tool_results: Option<String>,
    /// `(name, input JSON schema)` of each tool.
    pub tools: Vec<(String, Value)>,
    pub choice: Choice,
    pub max_tokens: Option<usize>,
    pub stop: Vec<String>,
    /// Every text the model reads, for token counts.
    pub input_chars: usize,
    pub directives: Directives,
    pub fingerprint: u64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) enum Choice {
    #[default]
    Auto,
    Any,
    Tool(String),
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::validation("ValidationException", message)
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, AwsError> {
    value
        .as_object()
        .ok_or_else(|| invalid(format!("{at}: expected a structure, found {}", kind(value))))
}

fn array<'a>(value: &'a Value, at: &str) -> Result<&'a Vec<Value>, AwsError> {
    value
        .as_array()
        .ok_or_else(|| invalid(format!("{at}: expected a list, found {}", kind(value))))
}

fn string<'a>(value: Option<&'a Value>, at: &str) -> Result<&'a str, AwsError> {
    value
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{at}: a string is required")))
}

fn only(map: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), AwsError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(invalid(format!(
            "{at}: extraneous key [{key}] is not permitted"
        ))),
        None => Ok(()),
    }
}

impl Converse {
    pub(super) fn parse(model: &str, body: &Value) -> Result<Self, AwsError> {
        let body = object(body, "request")?;
        only(body, TOP_LEVEL, "request")?;
        let mut texts: Vec<String> = Vec::new();
        let mut request = Converse {
            model: model.to_owned(),
            ..Converse::default()
        };
        if let Some(system) = body.get("system") {
            for (i, block) in array(system, "system")?.iter().enumerate() {
                let at = format!("system.{i}");
                let block = object(block, &at)?;
                only(block, &["text", "guardContent", "cachePoint"], &at)?;
                if let Some(text) = block.get("text") {
                    let text = string(Some(text), &format!("{at}.text"))?;
                    if text.trim().is_empty() {
                        return Err(invalid(format!("{at}.text: the text field is blank")));
                    }
                    texts.push(text.to_owned());
                }
            }
        }
        let tool_config = body.get("toolConfig");
        if let Some(config) = tool_config {
            request.parse_tools(config)?;
        }
        let messages = array(
            body.get("messages")
                .ok_or_else(|| invalid("request: messages is required"))?,
            "messages",
        )?;
        if messages.is_empty() {
            return Err(invalid("messages: at least one message is required"));
        }
        let mut tool_uses: HashSet<String> = HashSet::new();
        let mut previous_role = "";
        for (i, message) in messages.iter().enumerate() {
            let at = format!("messages.{i}");
            let message = object(message, &at)?;
            only(message, &["role", "content"], &at)?;
            let role = string(message.get("role"), &format!("{at}.role"))?;
            if role != "user" && role != "assistant" {
                return Err(invalid(format!(
                    "{at}.role: `{role}` is not one of [user, assistant]"
                )));
            }
            if i == 0 && role != "user" {
                return Err(invalid("A conversation must start with a user message."));
            }
            if role == previous_role {
                return Err(invalid(
                    "A conversation must alternate between user and assistant roles.",
                ));
            }
            previous_role = role;
            let content = array(
                message
                    .get("content")
                    .ok_or_else(|| invalid(format!("{at}.content is required")))?,
                &format!("{at}.content"),
            )?;
            if content.is_empty() {
                return Err(invalid(format!(
                    "{at}.content: at least one block is required"
                )));
            }
            let mut user_text = String::new();
            let mut results: Option<String> = None;
            for (j, block) in content.iter().enumerate() {
                let at = format!("{at}.content.{j}");
                let block = object(block, &at)?;
                only(block, BLOCK_KINDS, &at)?;
                if block.len() != 1 {
                    return Err(invalid(format!("{at}: exactly one member must be set")));
                }
                if let Some(text) = block.get("text") {
                    let text = string(Some(text), &format!("{at}.text"))?;
                    if text.trim().is_empty() {
                        return Err(invalid(format!(
                            "{at}: The text field in the ContentBlock object is blank."
                        )));
                    }
                    texts.push(text.to_owned());
                    user_text.push_str(text);
                } else if let Some(image) = block.get("image") {
                    check_image(image, &format!("{at}.image"))?;
                } else if let Some(tool_use) = block.get("toolUse") {
                    if role != "assistant" {
                        return Err(invalid(format!(
                            "{at}: toolUse blocks belong to assistant turns"
                        )));
                    }
                    let tool_use = object(tool_use, &format!("{at}.toolUse"))?;
                    only(
                        tool_use,
                        &["toolUseId", "name", "input", "type"],
                        &format!("{at}.toolUse"),
                    )?;
                    let id = string(
                        tool_use.get("toolUseId"),
                        &format!("{at}.toolUse.toolUseId"),
                    )?;
                    string(tool_use.get("name"), &format!("{at}.toolUse.name"))?;
                    if tool_use.get("input").is_none() {
                        return Err(invalid(format!("{at}.toolUse.input is required")));
                    }
                    tool_uses.insert(id.to_owned());
                } else if let Some(result) = block.get("toolResult") {
                    if role != "user" {
                        return Err(invalid(format!(
                            "{at}: toolResult blocks belong to user turns"
                        )));
                    }
                    let text = check_tool_result(result, &format!("{at}.toolResult"), &tool_uses)?;
                    texts.push(text.clone());
                    results.get_or_insert_with(String::new).push_str(&text);
                }
            }
            if (!tool_uses.is_empty() || results.is_some()) && tool_config.is_none() {
                return Err(invalid(
                    "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
                ));
            }
            if role == "user" {
                request.prompt = user_text;
                request.tool_results = results;
            }
        }
        if let Some(config) = body.get("inferenceConfig") {
            request.parse_inference(config)?;
        }
        request.input_chars = texts.iter().map(|t| t.chars().count()).sum();
        request.directives = Directives::parse(texts.iter().map(String::as_str))
            .map_err(|e| invalid(e.to_string()))?;
        request.fingerprint = fingerprint(&[
            model.as_bytes(),
            Value::Object(body.clone()).to_string().as_bytes(),
        ]);
        Ok(request)
    }

    fn parse_tools(&mut self, config: &Value) -> Result<(), AwsError> {
        let config = object(config, "toolConfig")?;
        only(config, &["tools", "toolChoice"], "toolConfig")?;
        let tools = array(
            config
                .get("tools")
                .ok_or_else(|| invalid("toolConfig.tools is required"))?,
            "toolConfig.tools",
        )?;
        if tools.is_empty() {
            return Err(invalid("toolConfig.tools: at least one tool is required"));
        }
        for (i, tool) in tools.iter().enumerate() {
            let at = format!("toolConfig.tools.{i}");
            let tool = object(tool, &at)?;
            only(tool, &["toolSpec", "cachePoint", "systemTool"], &at)?;
            let Some(spec) = tool.get("toolSpec") else {
                continue;
            };
            let at = format!("{at}.toolSpec");
            let spec = object(spec, &at)?;
            only(spec, &["name", "description", "inputSchema", "strict"], &at)?;
            let name = string(spec.get("name"), &format!("{at}.name"))?;
            let valid_name = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid_name {
                return Err(invalid(format!(
                    "{at}.name: `{name}` must match [a-zA-Z0-9_-]{{1,64}}"
                )));
            }
            let schema = spec
                .get("inputSchema")
                .and_then(Value::as_object)
                .and_then(|s| s.get("json"))
                .filter(|json| json.is_object())
                .ok_or_else(|| {
                    invalid(format!(
                        "{at}.inputSchema.json: a JSON object schema is required"
                    ))
                })?;
            self.tools.push((name.to_owned(), schema.clone()));
        }
        if let Some(choice) = config.get("toolChoice") {
            let choice = object(choice, "toolConfig.toolChoice")?;
            only(choice, &["auto", "any", "tool"], "toolConfig.toolChoice")?;
            self.choice = if choice.contains_key("any") {
                Choice::Any
            } else if let Some(tool) = choice.get("tool") {
                let name = string(tool.get("name"), "toolConfig.toolChoice.tool.name")?;
                if !self.tools.iter().any(|(n, _)| n == name) {
                    return Err(invalid(format!(
                        "toolConfig.toolChoice.tool.name: no tool named `{name}`"
                    )));
                }
                Choice::Tool(name.to_owned())
            } else {
                Choice::Auto
            };
        }
        Ok(())
    }

    fn parse_inference(&mut self, config: &Value) -> Result<(), AwsError> {
        let config = object(config, "inferenceConfig")?;
        only(
            config,
            &["maxTokens", "temperature", "topP", "stopSequences"],
            "inferenceConfig",
        )?;
        if let Some(max) = config.get("maxTokens") {
            let max = max.as_u64().filter(|m| *m >= 1).ok_or_else(|| {
                invalid("inferenceConfig.maxTokens: must be an integer of at least 1")
            })?;
            self.max_tokens = Some(max as usize);
        }
        for key in ["temperature", "topP"] {
            if let Some(value) = config.get(key) {
                let value = value
                    .as_f64()
                    .ok_or_else(|| invalid(format!("inferenceConfig.{key}: must be a number")))?;
                if !(0.0..=1.0).contains(&value) {
                    return Err(invalid(format!(
                        "inferenceConfig.{key}: {value} is not in the range 0 to 1"
                    )));
                }
            }
        }
        if let Some(stops) = config.get("stopSequences") {
            for (i, stop) in array(stops, "inferenceConfig.stopSequences")?
                .iter()
                .enumerate()
            {
                let stop = string(Some(stop), &format!("inferenceConfig.stopSequences.{i}"))?;
                if stop.is_empty() {
                    return Err(invalid(
                        "inferenceConfig.stopSequences: entries must not be empty",
                    ));
                }
                self.stop.push(stop.to_owned());
            }
        }
        Ok(())
    }
}

fn check_image(image: &Value, at: &str) -> Result<(), AwsError> {
    let image = object(image, at)?;
    only(image, &["format", "source"], at)?;
    let format = string(image.get("format"), &format!("{at}.format"))?;
    if !IMAGE_FORMATS.contains(&format) {
        return Err(invalid(format!(
            "{at}.format: `{format}` is not one of {IMAGE_FORMATS:?}"
        )));
    }
    let source = object(
        image
            .get("source")
            .ok_or_else(|| invalid(format!("{at}.source is required")))?,
        &format!("{at}.source"),
    )?;
    let bytes = string(source.get("bytes"), &format!("{at}.source.bytes"))?;
    use base64::Engine as _;
    match base64::engine::general_purpose::STANDARD.decode(bytes) {
        Ok(decoded) if !decoded.is_empty() => Ok(()),
        _ => Err(invalid(format!(
            "{at}.source.bytes: not valid base64 image bytes"
        ))),
    }
}

/// The result's text, after checking it answers a tool use made earlier.
fn check_tool_result(
    result: &Value,
    at: &str,
    tool_uses: &HashSet<String>,
) -> Result<String, AwsError> {
    let result = object(result, at)?;
    only(result, &["toolUseId", "content", "status", "type"], at)?;
    let id = string(result.get("toolUseId"), &format!("{at}.toolUseId"))?;
    if !tool_uses.contains(id) {
        return Err(invalid(format!(
            "{at}.toolUseId: `{id}` does not match any toolUse block in the conversation"
        )));
    }
    let content = array(
        result
            .get("content")
            .ok_or_else(|| invalid(format!("{at}.content is required")))?,
        &format!("{at}.content"),
    )?;
    let mut text = String::new();
    for (i, block) in content.iter().enumerate() {
        let at = format!("{at}.content.{i}");
        let block = object(block, &at)?;
        only(
            block,
            &["text", "json", "image", "document", "video", "searchResult"],
            &at,
        )?;
        if let Some(t) = block.get("text") {
            text.push_str(string(Some(t), &format!("{at}.text"))?);
        } else if let Some(json) = block.get("json") {
            text.push_str(&json.to_string());
        }
    }
    Ok(text)
}
