//! An OpenAI chat request as the parts of a Bedrock Converse request.
//!
//! System and developer messages become `system` blocks; tool results become `toolResult`
//! blocks of a user turn; consecutive turns of one role merge, as Converse requires roles
//! to alternate. What Converse cannot express (several choices, log probabilities,
//! penalties, a seed, schema-less JSON mode, image URLs it would have to fetch) is refused
//! with a 400 naming the parameter, never dropped.

use aws_sdk_bedrockruntime::error::BuildError;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, AutoToolChoice, ContentBlock, ConversationRole, ImageBlock, ImageFormat,
    ImageSource, InferenceConfiguration, JsonSchemaDefinition, Message, OutputConfig, OutputFormat,
    OutputFormatStructure, OutputFormatType, SpecificToolChoice, SystemContentBlock, Tool,
    ToolChoice, ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock,
    ToolSpecification, ToolUseBlock,
};
use base64::Engine as _;
use gateway_core::upstream::ProviderError;
use gateway_core::wire::{
    ChatRequest, Content, ContentPart, Message as ChatMessage, ResponseFormat, ToolChoiceMode,
};
use serde_json::{Value, json};

use super::document::json_to_document;
use crate::translate::{ImageSource as OpenAiImage, image_source};

/// Everything of a Converse / ConverseStream request but the model id.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConverseParts {
    pub messages: Vec<Message>,
    pub system: Vec<SystemContentBlock>,
    pub inference: Option<InferenceConfiguration>,
    pub tools: Option<ToolConfiguration>,
    pub output: Option<OutputConfig>,
}

pub(crate) fn chat_to_converse(request: &ChatRequest) -> Result<ConverseParts, ProviderError> {
    refuse_unsupported(request)?;
    let mut parts = ConverseParts::default();
    let mut turns: Vec<(ConversationRole, Vec<ContentBlock>)> = Vec::new();
    for (i, message) in request.messages.iter().enumerate() {
        let param = format!("messages[{i}]");
        let (role, blocks) = match message {
            ChatMessage::System(m) | ChatMessage::Developer(m) => {
                if m.content.has_image() {
                    return Err(ProviderError::unsupported(
                        &param,
                        "Bedrock takes only text in system messages",
                    ));
                }
                let text = m.content.joined_text();
                if !text.is_empty() {
                    parts.system.push(SystemContentBlock::Text(text));
                }
                continue;
            }
            ChatMessage::User(m) => (ConversationRole::User, content_blocks(&m.content, &param)?),
            ChatMessage::Assistant(m) => {
                let mut blocks = match &m.content {
                    Some(content) => content_blocks(content, &param)?,
                    None => Vec::new(),
                };
                for (j, call) in m.tool_calls.iter().flatten().enumerate() {
                    let param = format!("{param}.tool_calls[{j}]");
                    let function = call.function.as_ref().ok_or_else(|| {
                        ProviderError::unsupported(&param, "Bedrock takes only function tool calls")
                    })?;
                    let arguments: Value = if function.arguments.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&function.arguments).map_err(|_| {
                            ProviderError::unsupported(
                                &format!("{param}.function.arguments"),
                                "tool-call arguments must be a JSON object for Bedrock",
                            )
                        })?
                    };
                    blocks.push(ContentBlock::ToolUse(built(
                        ToolUseBlock::builder()
                            .tool_use_id(&call.id)
                            .name(&function.name)
                            .input(json_to_document(&arguments))
                            .build(),
                        &param,
                    )?));
                }
                (ConversationRole::Assistant, blocks)
            }
            ChatMessage::Tool(m) => {
                let text = m.content.joined_text();
                let result = ToolResultBlock::builder()
                    .tool_use_id(&m.tool_call_id)
                    .content(ToolResultContentBlock::Text(text))
                    .build();
                (
                    ConversationRole::User,
                    vec![ContentBlock::ToolResult(built(result, &param)?)],
                )
            }
            ChatMessage::Function(_) => {
                return Err(ProviderError::unsupported(
                    &param,
                    "the deprecated `function` role is not supported for Bedrock; use tools",
                ));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    for (role, blocks) in turns {
        parts.messages.push(built(
            Message::builder()
                .role(role)
                .set_content(Some(blocks))
                .build(),
            "messages",
        )?);
    }
    parts.inference = inference(request)?;
    parts.tools = tool_config(request)?;
    parts.output = output_config(request)?;
    Ok(parts)
}

/// Parameters Converse has no field for.
fn refuse_unsupported(request: &ChatRequest) -> Result<(), ProviderError> {
    let refuse = |param: &str, why: &str| {
        Err(ProviderError::unsupported(
            param,
            format!("`{param}` is not supported for Bedrock: {why}"),
        ))
    };
    if request.n.is_some_and(|n| n > 1) {
        return refuse("n", "Converse returns one choice");
    }
    if request.logprobs == Some(true) || request.top_logprobs.is_some() {
        return refuse("logprobs", "Converse reports no log probabilities");
    }
    if request.logit_bias.is_some() {
        return refuse("logit_bias", "Converse has no logit bias");
    }
    if request.presence_penalty.is_some_and(|p| p != 0.0) {
        return refuse("presence_penalty", "Converse has no penalties");
    }
    if request.frequency_penalty.is_some_and(|p| p != 0.0) {
        return refuse("frequency_penalty", "Converse has no penalties");
    }
    if request.seed.is_some() {
        return refuse("seed", "Converse has no seed");
    }
    if request.parallel_tool_calls == Some(false) {
        return refuse(
            "parallel_tool_calls",
            "Converse cannot turn parallel tool calls off",
        );
    }
    if let Some(key) = request.extra.keys().next() {
        return refuse(key, "Converse has no such parameter");
    }
    Ok(())
}

fn content_blocks(content: &Content, param: &str) -> Result<Vec<ContentBlock>, ProviderError> {
    let parts = match content {
        Content::Text(text) if text.is_empty() => return Ok(Vec::new()),
        Content::Text(text) => return Ok(vec![ContentBlock::Text(text.clone())]),
        Content::Parts(parts) => parts,
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let param = format!("{param}.content[{i}]");
        match part {
            ContentPart::Text { text, .. } | ContentPart::Refusal { refusal: text } => {
                if !text.is_empty() {
                    blocks.push(ContentBlock::Text(text.clone()));
                }
            }
            ContentPart::ImageUrl { image_url } => {
                blocks.push(ContentBlock::Image(image_block(&image_url.url, &param)?));
            }
            ContentPart::InputAudio { .. } | ContentPart::File { .. } => {
                return Err(ProviderError::unsupported(
                    &param,
                    "Bedrock Converse takes text and image parts here",
                ));
            }
        }
    }
    Ok(blocks)
}

fn image_block(url: &str, param: &str) -> Result<ImageBlock, ProviderError> {
    let data = match image_source(url, param)? {
        OpenAiImage::Inline(data) => data,
        OpenAiImage::Url(_) => {
            return Err(ProviderError::unsupported(
                param,
                "Bedrock takes images as bytes, not URLs: send the image as a base64 data URL \
                 (data:image/png;base64,...)",
            ));
        }
    };
    let format = match data.media_type {
        "image/png" => ImageFormat::Png,
        "image/jpeg" | "image/jpg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::Webp,
        other => {
            return Err(ProviderError::unsupported(
                param,
                format!("Bedrock takes PNG, JPEG, GIF and WebP images, not `{other}`"),
            ));
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.base64.trim())
        .map_err(|_| ProviderError::unsupported(param, "the image data URL is not valid base64"))?;
    built(
        ImageBlock::builder()
            .format(format)
            .source(ImageSource::Bytes(Blob::new(bytes)))
            .build(),
        param,
    )
}

fn inference(request: &ChatRequest) -> Result<Option<InferenceConfiguration>, ProviderError> {
    let (max_param, max) = match (request.max_completion_tokens, request.max_tokens) {
        (Some(m), _) => ("max_completion_tokens", Some(m)),
        (None, m) => ("max_tokens", m),
    };
    let max_tokens = max
        .map(|m| {
            i32::try_from(m).ok().filter(|m| *m >= 1).ok_or_else(|| {
                ProviderError::unsupported(max_param, "Bedrock needs a token limit of at least 1")
            })
        })
        .transpose()?;
    let stops = request
        .stop
        .as_ref()
        .map(|s| s.as_slice().to_vec())
        .filter(|s| !s.is_empty());
    if max_tokens.is_none()
        && request.temperature.is_none()
        && request.top_p.is_none()
        && stops.is_none()
    {
        return Ok(None);
    }
    Ok(Some(
        InferenceConfiguration::builder()
            .set_max_tokens(max_tokens)
            .set_temperature(request.temperature.map(|t| t as f32))
            .set_top_p(request.top_p.map(|p| p as f32))
            .set_stop_sequences(stops)
            .build(),
    ))
}

fn tool_config(request: &ChatRequest) -> Result<Option<ToolConfiguration>, ProviderError> {
    let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let choice = match &request.tool_choice {
        None | Some(gateway_core::wire::ToolChoice::Mode(ToolChoiceMode::Auto)) => {
            Some(ToolChoice::Auto(AutoToolChoice::builder().build()))
        }
        Some(gateway_core::wire::ToolChoice::Mode(ToolChoiceMode::Required)) => {
            Some(ToolChoice::Any(AnyToolChoice::builder().build()))
        }
        Some(gateway_core::wire::ToolChoice::Mode(ToolChoiceMode::None)) => {
            // Converse has no "none": the tools are left out, unless earlier turns used them
            // (Converse then requires the tool configuration).
            if uses_tools(request) {
                return Err(ProviderError::unsupported(
                    "tool_choice",
                    "Bedrock cannot forbid tool calls in a conversation that already used \
                     tools; use `auto`",
                ));
            }
            return Ok(None);
        }
        Some(gateway_core::wire::ToolChoice::Object(object)) => {
            let name = object
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|_| object.get("type").and_then(Value::as_str) == Some("function"))
                .ok_or_else(|| {
                    ProviderError::unsupported(
                        "tool_choice",
                        "Bedrock takes `none`, `auto`, `required` or one named function",
                    )
                })?;
            Some(ToolChoice::Tool(built(
                SpecificToolChoice::builder().name(name).build(),
                "tool_choice",
            )?))
        }
    };
    let mut config = ToolConfiguration::builder().set_tool_choice(choice);
    for (i, tool) in tools.iter().enumerate() {
        let param = format!("tools[{i}]");
        let gateway_core::wire::Tool::Function { function } = tool else {
            return Err(ProviderError::unsupported(
                &param,
                "Bedrock takes only function tools",
            ));
        };
        let schema = function
            .parameters
            .clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        let spec = ToolSpecification::builder()
            .name(&function.name)
            .set_description(function.description.clone().filter(|d| !d.is_empty()))
            .input_schema(ToolInputSchema::Json(json_to_document(&schema)))
            .set_strict(function.strict)
            .build();
        config = config.tools(Tool::ToolSpec(built(spec, &param)?));
    }
    built(config.build(), "tools").map(Some)
}

fn uses_tools(request: &ChatRequest) -> bool {
    request.messages.iter().any(|m| match m {
        ChatMessage::Tool(_) => true,
        ChatMessage::Assistant(a) => a.tool_calls.as_ref().is_some_and(|c| !c.is_empty()),
        _ => false,
    })
}

fn output_config(request: &ChatRequest) -> Result<Option<OutputConfig>, ProviderError> {
    match &request.response_format {
        None | Some(ResponseFormat::Text) => Ok(None),
        Some(ResponseFormat::JsonObject) => Err(ProviderError::unsupported(
            "response_format",
            "Bedrock has no schema-less JSON mode: use `json_schema` with a schema",
        )),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema.schema.as_ref().ok_or_else(|| {
                ProviderError::unsupported(
                    "response_format.json_schema.schema",
                    "Bedrock's structured output needs a schema",
                )
            })?;
            let definition = JsonSchemaDefinition::builder()
                .schema(schema.to_string())
                .name(&json_schema.name)
                .set_description(json_schema.description.clone())
                .build();
            let format = OutputFormat::builder()
                .r#type(OutputFormatType::JsonSchema)
                .structure(OutputFormatStructure::JsonSchema(built(
                    definition,
                    "response_format",
                )?))
                .build();
            Ok(Some(
                OutputConfig::builder()
                    .text_format(built(format, "response_format")?)
                    .build(),
            ))
        }
    }
}

/// A builder's complaint about a missing required field: the request lacked something
/// Converse requires.
fn built<T>(result: Result<T, BuildError>, param: &str) -> Result<T, ProviderError> {
    result.map_err(|e| {
        ProviderError::unsupported(param, format!("cannot build the Bedrock request: {e}"))
    })
}
