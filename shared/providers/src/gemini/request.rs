//! An OpenAI chat request as a Gemini `GenerateContentRequest`.
//!
//! | OpenAI | Gemini |
//! |---|---|
//! | `system` / `developer` messages | `systemInstruction` (all of them, in order) |
//! | `user` / `assistant` | `contents` with roles `user` / `model`; consecutive turns of one role merged |
//! | image parts | `inlineData` (data URL) or `fileData` (http(s) URL, media type from its extension) |
//! | `input_audio`, `file` with a data URL | `inlineData` |
//! | `assistant.tool_calls` | `functionCall` parts, with the thought signature their id carries |
//! | `tool` messages | `functionResponse` parts named after the call they answer; non-object results wrapped as `{"content": ...}` |
//! | `tools` | `functionDeclarations` with the JSON Schema in `parametersJsonSchema` |
//! | `tool_choice` | `toolConfig.functionCallingConfig` (`AUTO`, `NONE`, `ANY`, `allowedFunctionNames`) |
//! | `max_completion_tokens` / `max_tokens`, `stop`, `n`, `seed`, `temperature`, `top_p`, penalties | `generationConfig` |
//! | `response_format` | `responseMimeType: application/json` (+ `responseJsonSchema`) |
//! | `logprobs` / `top_logprobs` | `responseLogprobs` / `logprobs` |
//! | `reasoning_effort` | `thinkingConfig.thinkingBudget` (Google's published mapping) |
//!
//! What Gemini cannot do is refused with a 400 naming the parameter: `logit_bias`,
//! `parallel_tool_calls: false`, custom tools, audio output, token-id inputs, any other
//! parameter Gemini has no equivalent for. Bookkeeping that does not change the answer
//! (`user`, `store`, `metadata`, ...) is dropped.

use std::collections::HashMap;

use gateway_core::upstream::ProviderError;
use gateway_core::wire::{
    ChatRequest, Content as OpenAiContent, ContentPart, Message, ResponseFormat,
    Tool as OpenAiTool, ToolCall, ToolChoice, ToolChoiceMode,
};
use serde_json::{Map, Value};

use super::response::thought_signature_of;
use super::wire::{
    Blob, Content, FileData, FunctionCall, FunctionCallingConfig, FunctionDeclaration,
    FunctionResponse, GenerateContentRequest, GenerationConfig, Part, PartData, ThinkingConfig,
    Tool, ToolConfig,
};
use crate::translate::{ImageSource, image_source};

/// OpenAI-platform parameters that do not change the answer.
const BOOKKEEPING: &[&str] = &[
    "store",
    "metadata",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
];

/// Gemini's limit on `top_logprobs` (`generationConfig.logprobs`).
const MAX_TOP_LOGPROBS: u32 = 20;

/// The request body for `generateContent` / `streamGenerateContent`.
pub fn generate_content_request(
    request: &ChatRequest,
    stream: bool,
) -> Result<GenerateContentRequest, ProviderError> {
    refuse_unsupported(request, stream)?;
    let (system_instruction, contents) = contents(&request.messages)?;
    let (tools, tool_config) = tools(request)?;
    Ok(GenerateContentRequest {
        contents,
        system_instruction,
        tools,
        tool_config,
        generation_config: generation_config(request)?,
    })
}

fn refuse_unsupported(request: &ChatRequest, stream: bool) -> Result<(), ProviderError> {
    if request.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
        return Err(ProviderError::unsupported(
            "logit_bias",
            "Gemini does not support `logit_bias`.",
        ));
    }
    if request.parallel_tool_calls == Some(false) {
        return Err(ProviderError::unsupported(
            "parallel_tool_calls",
            "Gemini cannot be limited to one tool call per turn: `parallel_tool_calls: false` is not supported.",
        ));
    }
    if stream && request.n.is_some_and(|n| n > 1) {
        return Err(ProviderError::unsupported(
            "n",
            "The gateway streams one Gemini candidate: `n` must be 1 when `stream` is true.",
        ));
    }
    if stream && request.logprobs == Some(true) {
        return Err(ProviderError::unsupported(
            "logprobs",
            "The gateway returns Gemini log probabilities only without streaming.",
        ));
    }
    for (param, value) in &request.extra {
        let harmless = BOOKKEEPING.contains(&param.as_str())
            || value.is_null()
            || param == "reasoning_effort"
            || (param == "modalities" && value == &Value::from(vec![Value::from("text")]));
        if !harmless {
            return Err(ProviderError::unsupported(
                param,
                format!("`{param}` is not supported by Gemini."),
            ));
        }
    }
    Ok(())
}

/// `systemInstruction` and `contents`.
fn contents(messages: &[Message]) -> Result<(Option<Content>, Vec<Content>), ProviderError> {
    let mut system = Vec::new();
    let mut turns = Turns::default();
    // Gemini names a function response after its function; OpenAI names the call's id.
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].{field}");
        match message {
            Message::System(m) | Message::Developer(m) => {
                text_parts(&m.content, &mut system);
            }
            Message::User(m) => {
                let parts = user_parts(&m.content, &at("content"))?;
                turns.push("user", parts);
            }
            Message::Assistant(m) => {
                let mut parts = Vec::new();
                if let Some(content) = &m.content {
                    text_parts(content, &mut parts);
                }
                if let Some(refusal) = m.refusal.as_ref().filter(|r| !r.is_empty()) {
                    parts.push(Part::text(refusal.clone()));
                }
                for (j, call) in m.tool_calls.iter().flatten().enumerate() {
                    let (name, args) = call_of(call, &at(&format!("tool_calls[{j}]")))?;
                    call_names.insert(&call.id, name);
                    parts.push(Part {
                        data: PartData::FunctionCall(FunctionCall {
                            name: name.to_owned(),
                            args,
                        }),
                        thought_signature: thought_signature_of(&call.id).map(str::to_owned),
                    });
                }
                if let Some(call) = m.extra.get("function_call").filter(|v| !v.is_null()) {
                    parts.push(Part::from(PartData::FunctionCall(legacy_call(
                        call,
                        &at("function_call"),
                    )?)));
                }
                turns.push("model", parts);
            }
            Message::Tool(m) => {
                let name = call_names.get(m.tool_call_id.as_str()).ok_or_else(|| {
                    ProviderError::unsupported(
                        &at("tool_call_id"),
                        format!(
                            "`{}` answers no tool call of an earlier assistant message; Gemini \
                             needs the call to know the function's name.",
                            m.tool_call_id
                        ),
                    )
                })?;
                let response = function_response(&m.content.joined_text());
                turns.push(
                    "user",
                    vec![Part::from(PartData::FunctionResponse(FunctionResponse {
                        name: (*name).to_owned(),
                        response,
                    }))],
                );
            }
            Message::Function(m) => {
                let response = function_response(m.content.as_deref().unwrap_or_default());
                turns.push(
                    "user",
                    vec![Part::from(PartData::FunctionResponse(FunctionResponse {
                        name: m.name.clone(),
                        response,
                    }))],
                );
            }
        }
    }
    let system = (!system.is_empty()).then_some(Content {
        role: None,
        parts: system,
    });
    Ok((system, turns.0))
}

/// `contents`, merging consecutive turns of the same role as Gemini expects (parallel tool
/// results belong in one `user` turn after the `model` turn that called them).
#[derive(Default)]
struct Turns(Vec<Content>);

impl Turns {
    fn push(&mut self, role: &'static str, parts: Vec<Part>) {
        if parts.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.role == Some(role) => last.parts.extend(parts),
            _ => self.0.push(Content {
                role: Some(role),
                parts,
            }),
        }
    }
}

/// Text of a message as parts; empty text is left out (Gemini refuses empty text parts).
fn text_parts(content: &OpenAiContent, out: &mut Vec<Part>) {
    content.for_each_text(&mut |text| {
        if !text.is_empty() {
            out.push(Part::text(text.to_owned()));
        }
    });
}

fn user_parts(content: &OpenAiContent, param: &str) -> Result<Vec<Part>, ProviderError> {
    let parts = match content {
        OpenAiContent::Text(text) => return Ok(vec![Part::text(text.clone())]),
        OpenAiContent::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (k, part) in parts.iter().enumerate() {
        let at = format!("{param}[{k}]");
        match part {
            ContentPart::Text { text, .. } => {
                if !text.is_empty() {
                    out.push(Part::text(text.clone()));
                }
            }
            ContentPart::Refusal { refusal } => out.push(Part::text(refusal.clone())),
            ContentPart::ImageUrl { image_url } => out.push(image_part(&image_url.url, &at)?),
            ContentPart::InputAudio { input_audio } => out.push(audio_part(input_audio, &at)?),
            ContentPart::File { file } => out.push(file_part(file, &at)?),
        }
    }
    Ok(out)
}

fn image_part(url: &str, param: &str) -> Result<Part, ProviderError> {
    Ok(match image_source(url, param)? {
        ImageSource::Inline(data) => Part::from(PartData::InlineData(Blob {
            mime_type: data.media_type.to_owned(),
            data: data.base64.to_owned(),
        })),
        ImageSource::Url(url) => Part::from(PartData::FileData(FileData {
            mime_type: image_type_of(url)
                .ok_or_else(|| {
                    ProviderError::unsupported(
                        param,
                        "Gemini needs an image URL's media type, and this URL does not end in \
                         .png, .jpg, .jpeg, .webp, .heic or .heif; send the image as a base64 \
                         data URL instead.",
                    )
                })?
                .to_owned(),
            file_uri: url.to_owned(),
        })),
    })
}

/// The image types Gemini accepts, by file extension (query and fragment ignored).
fn image_type_of(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    })
}

fn audio_part(input_audio: &Value, param: &str) -> Result<Part, ProviderError> {
    let data = input_audio.get("data").and_then(Value::as_str);
    let format = input_audio.get("format").and_then(Value::as_str);
    let mime_type = match format {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mp3",
        _ => {
            return Err(ProviderError::unsupported(
                param,
                "`input_audio.format` must be `wav` or `mp3`.",
            ));
        }
    };
    let data = data.ok_or_else(|| {
        ProviderError::unsupported(param, "`input_audio.data` must be base64 audio.")
    })?;
    Ok(Part::from(PartData::InlineData(Blob {
        mime_type: mime_type.to_owned(),
        data: data.to_owned(),
    })))
}

/// A `file` part with its bytes inline (`file_data` as a data URL); uploaded file ids are
/// OpenAI's own storage, which Gemini cannot read.
fn file_part(file: &Value, param: &str) -> Result<Part, ProviderError> {
    let inline = file
        .get("file_data")
        .and_then(Value::as_str)
        .and_then(|url| url.strip_prefix("data:"))
        .and_then(|rest| rest.split_once(','))
        .and_then(|(header, data)| Some((header.strip_suffix(";base64")?, data)));
    match inline {
        Some((mime_type, data)) if !mime_type.is_empty() => {
            Ok(Part::from(PartData::InlineData(Blob {
                mime_type: mime_type.to_owned(),
                data: data.to_owned(),
            })))
        }
        _ => Err(ProviderError::unsupported(
            param,
            "Gemini takes a `file` part only with `file_data` as a base64 data URL; OpenAI file \
             ids cannot be read by Gemini.",
        )),
    }
}

/// A tool call's function name and its arguments as a JSON object.
fn call_of<'a>(
    call: &'a ToolCall,
    param: &str,
) -> Result<(&'a str, Map<String, Value>), ProviderError> {
    let function = call.function.as_ref().ok_or_else(|| {
        ProviderError::unsupported(param, "Gemini takes function tool calls only.")
    })?;
    let args = arguments(&function.arguments, &format!("{param}.function.arguments"))?;
    Ok((&function.name, args))
}

fn legacy_call(call: &Value, param: &str) -> Result<FunctionCall, ProviderError> {
    let name = call
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::unsupported(param, "`function_call` needs a `name`."))?;
    let raw = call.get("arguments").and_then(Value::as_str).unwrap_or("");
    Ok(FunctionCall {
        name: name.to_owned(),
        args: arguments(raw, &format!("{param}.arguments"))?,
    })
}

/// Gemini takes arguments as an object, OpenAI sends them as JSON text.
fn arguments(raw: &str, param: &str) -> Result<Map<String, Value>, ProviderError> {
    if raw.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(args)) => Ok(args),
        _ => Err(ProviderError::unsupported(
            param,
            "Gemini needs tool-call arguments that are a JSON object.",
        )),
    }
}

/// A tool's result as the object Gemini requires: a JSON object as it is, anything else as
/// `{"content": <the text>}`.
fn function_response(text: &str) -> Map<String, Value> {
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) {
        return object;
    }
    let mut wrapped = Map::new();
    wrapped.insert("content".to_owned(), Value::from(text));
    wrapped
}

fn tools(request: &ChatRequest) -> Result<(Vec<Tool>, Option<ToolConfig>), ProviderError> {
    let mut declarations = Vec::new();
    for (i, tool) in request.tools.iter().flatten().enumerate() {
        match tool {
            OpenAiTool::Function { function } => declarations.push(FunctionDeclaration {
                name: function.name.clone(),
                description: function.description.clone().unwrap_or_default(),
                parameters_json_schema: function.parameters.clone(),
            }),
            OpenAiTool::Custom { .. } => {
                return Err(ProviderError::unsupported(
                    &format!("tools[{i}]"),
                    "Gemini takes function tools only, not custom tools.",
                ));
            }
        }
    }
    let config = match &request.tool_choice {
        None => None,
        Some(ToolChoice::Mode(mode)) => Some(calling_config(
            match mode {
                ToolChoiceMode::None => "NONE",
                ToolChoiceMode::Auto => "AUTO",
                ToolChoiceMode::Required => "ANY",
            },
            Vec::new(),
        )),
        Some(ToolChoice::Object(choice)) => Some(named_choice(choice, &mut declarations)?),
    };
    let tools = if declarations.is_empty() {
        Vec::new()
    } else {
        vec![Tool {
            function_declarations: declarations,
        }]
    };
    Ok((tools, config))
}

fn calling_config(mode: &'static str, allowed: Vec<String>) -> ToolConfig {
    ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names: allowed,
        },
    }
}

/// `{"type": "function", "function": {"name"}}` forces that function (`ANY` limited to it);
/// `{"type": "allowed_tools", ...}` keeps only the listed functions, `auto` or `required`.
fn named_choice(
    choice: &Map<String, Value>,
    declarations: &mut Vec<FunctionDeclaration>,
) -> Result<ToolConfig, ProviderError> {
    let name_of = |v: &Value| {
        v.get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match choice.get("type").and_then(Value::as_str) {
        Some("function") => {
            let name = name_of(&Value::Object(choice.clone())).ok_or_else(|| {
                ProviderError::unsupported("tool_choice", "`tool_choice.function.name` is missing.")
            })?;
            Ok(calling_config("ANY", vec![name]))
        }
        Some("allowed_tools") => {
            let allowed = choice.get("allowed_tools");
            let names: Vec<String> = allowed
                .and_then(|a| a.get("tools"))
                .and_then(Value::as_array)
                .map(|tools| tools.iter().filter_map(name_of).collect())
                .unwrap_or_default();
            declarations.retain(|d| names.contains(&d.name));
            match allowed.and_then(|a| a.get("mode")).and_then(Value::as_str) {
                Some("required") => Ok(calling_config("ANY", names)),
                _ => Ok(calling_config("AUTO", Vec::new())),
            }
        }
        _ => Err(ProviderError::unsupported(
            "tool_choice",
            "Gemini takes `tool_choice` as none, auto, required, a function or allowed tools.",
        )),
    }
}

fn generation_config(request: &ChatRequest) -> Result<Option<GenerationConfig>, ProviderError> {
    let mut config = GenerationConfig {
        stop_sequences: request
            .stop
            .as_ref()
            .map(|s| s.as_slice().to_vec())
            .unwrap_or_default(),
        candidate_count: request.n,
        temperature: request.temperature,
        top_p: request.top_p,
        presence_penalty: request.presence_penalty,
        frequency_penalty: request.frequency_penalty,
        ..GenerationConfig::default()
    };
    let limit = match (request.max_completion_tokens, request.max_tokens) {
        (Some(limit), _) => Some(("max_completion_tokens", limit)),
        (None, Some(limit)) => Some(("max_tokens", limit)),
        (None, None) => None,
    };
    if let Some((param, limit)) = limit {
        if limit < 1 {
            return Err(ProviderError::unsupported(
                param,
                format!("Gemini needs a positive `{param}`."),
            ));
        }
        config.max_output_tokens = Some(limit);
    }
    if let Some(seed) = request.seed {
        config.seed = Some(i32::try_from(seed).map_err(|_| {
            ProviderError::unsupported("seed", "Gemini takes a `seed` within the 32-bit range.")
        })?);
    }
    match &request.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => config.response_mime_type = Some("application/json"),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            config.response_mime_type = Some("application/json");
            config.response_json_schema = json_schema.schema.clone();
        }
    }
    if request.logprobs == Some(true) {
        config.response_logprobs = Some(true);
        if let Some(top) = request.top_logprobs {
            if top > MAX_TOP_LOGPROBS {
                return Err(ProviderError::unsupported(
                    "top_logprobs",
                    format!("Gemini returns at most {MAX_TOP_LOGPROBS} `top_logprobs`."),
                ));
            }
            config.logprobs = Some(top);
        }
    }
    if let Some(effort) = request
        .extra
        .get("reasoning_effort")
        .filter(|v| !v.is_null())
    {
        config.thinking_config = Some(ThinkingConfig {
            thinking_budget: thinking_budget(effort)?,
        });
    }
    let empty = serde_json::to_value(&config)
        .map(|v| v.as_object().is_some_and(Map::is_empty))
        .unwrap_or(false);
    Ok((!empty).then_some(config))
}

/// Google's mapping of OpenAI's `reasoning_effort` onto thinking budgets.
fn thinking_budget(effort: &Value) -> Result<i32, ProviderError> {
    match effort.as_str() {
        Some("none") => Ok(0),
        Some("minimal" | "low") => Ok(1024),
        Some("medium") => Ok(8192),
        Some("high") => Ok(24576),
        _ => Err(ProviderError::unsupported(
            "reasoning_effort",
            "Gemini takes `reasoning_effort` none, minimal, low, medium or high.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn translate(body: Value, stream: bool) -> Result<Value, ProviderError> {
        let request: ChatRequest =
            gateway_core::wire::parse_json_body(body.to_string().as_bytes()).unwrap();
        generate_content_request(&request, stream).map(|r| serde_json::to_value(r).unwrap())
    }

    #[test]
    fn parallel_tool_results_share_one_user_turn_and_take_the_calls_names() {
        let v = translate(
            json!({"model": "m", "messages": [
                {"role": "user", "content": "weather and time?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "b", "type": "function", "function": {"name": "time", "arguments": ""}}]},
                {"role": "tool", "tool_call_id": "a", "content": "{\"temp\": 21}"},
                {"role": "tool", "tool_call_id": "b", "content": "noon"}
            ]}),
            false,
        )
        .unwrap();
        assert_eq!(v["contents"][1]["role"], "model");
        assert_eq!(
            v["contents"][1]["parts"][1],
            json!({"functionCall": {"name": "time", "args": {}}})
        );
        assert_eq!(
            v["contents"][2]["parts"],
            json!([
                {"functionResponse": {"name": "weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "time", "response": {"content": "noon"}}}
            ])
        );
    }

    #[test]
    fn what_gemini_cannot_do_is_refused_by_name() {
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        for (extra, param, stream) in [
            (json!({"logit_bias": {"1": 2}}), "logit_bias", false),
            (
                json!({"parallel_tool_calls": false}),
                "parallel_tool_calls",
                false,
            ),
            (json!({"n": 2}), "n", true),
            (json!({"seed": 5_000_000_000_i64}), "seed", false),
            (json!({"top_k": 3}), "top_k", false),
            (json!({"max_tokens": 0}), "max_tokens", false),
        ] {
            let mut body = base.clone();
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let e = translate(body, stream).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param));
        }
    }

    #[test]
    fn an_unknown_tool_call_id_is_refused() {
        let e = translate(
            json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "x", "content": "1"}]}),
            false,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_call_id"));
    }

    #[test]
    fn image_urls_need_a_known_extension() {
        assert_eq!(
            image_type_of("https://x.test/a.JPG?w=1"),
            Some("image/jpeg")
        );
        assert_eq!(image_type_of("https://x.test/image"), None);
    }
}
