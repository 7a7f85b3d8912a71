//! Validation of Chat Completions requests, as strict as OpenAI's own, producing the
//! [`ChatRequest`] a reply is generated from.

use serde_json::{Value, json};

use super::{
    chat_messages::{Message, check_tool_sequence},
    chat_tools::{Function, FunctionApi, ToolChoice, check_name, choice, definitions},
    error::ApiError,
    params::{self, Object, get, param, reject_unknown},
};
use crate::{
    content::{estimate_tokens, fingerprint},
    directives::Directives,
};

/// The createChatCompletion request schema's top-level properties.
const KNOWN_PARAMETERS: &[&str] = &[
    "model",
    "messages",
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
];
const MAX_STOP_SEQUENCES: usize = 4;
/// Prompt tokens OpenAI adds to every request to prime the reply.
const REPLY_PRIMING_TOKENS: u64 = 3;

pub(super) struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub n: usize,
    pub stream: bool,
    pub include_usage: bool,
    /// `Some(top_logprobs)` when `logprobs` is true.
    pub logprobs: Option<usize>,
    pub stop: Vec<String>,
    pub max_tokens: Option<usize>,
    pub response_format: ResponseFormat,
    pub tools: Vec<Function>,
    pub tool_choice: ToolChoice,
    pub parallel_tool_calls: bool,
    /// The deprecated `functions` / `function_call` pair.
    pub functions: Vec<Function>,
    pub function_call: ToolChoice,
    pub directives: Directives,
    pub prompt_tokens: u64,
    /// Hash of everything that shapes the reply's content.
    pub fingerprint: u64,
}

pub(super) enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema(Value),
}

impl ChatRequest {
    pub(super) fn parse(body: &Value) -> Result<Self, ApiError> {
        let obj = body.as_object().ok_or_else(ApiError::unparseable_body)?;
        if let Some(key) = obj
            .keys()
            .find(|key| !KNOWN_PARAMETERS.contains(&key.as_str()))
        {
            return Err(ApiError::unrecognized_argument(key));
        }
        let model = match obj.get("model") {
            None | Some(Value::Null) => {
                return Err(ApiError::invalid(
                    "you must provide a model parameter",
                    None,
                    None,
                ));
            }
            Some(Value::String(model)) => model.clone(),
            Some(other) => return Err(ApiError::invalid_type("model", "a string", other)),
        };
        let raw_messages =
            params::array(obj, "", "messages")?.ok_or_else(|| ApiError::missing("messages"))?;
        if raw_messages.is_empty() {
            return Err(ApiError::empty_array("messages"));
        }
        let messages = raw_messages
            .iter()
            .enumerate()
            .map(|(index, message)| Message::parse(index, message))
            .collect::<Result<Vec<_>, _>>()?;
        check_tool_sequence(&messages)?;

        check_passive_parameters(obj)?;
        let n = params::integer(obj, "", "n", 1, 128)?.unwrap_or(1) as usize;
        let logprobs = params::boolean(obj, "", "logprobs")?.unwrap_or(false);
        let top_logprobs = params::integer(obj, "", "top_logprobs", 0, 20)?.unwrap_or(0) as usize;
        let max_tokens = [
            params::integer(obj, "", "max_tokens", 1, i64::MAX)?,
            params::integer(obj, "", "max_completion_tokens", 1, i64::MAX)?,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|max| usize::try_from(max).unwrap_or(usize::MAX));

        let stream = params::boolean(obj, "", "stream")?.unwrap_or(false);
        let include_usage = stream_options(obj, stream)?;
        let stop = stop_sequences(obj)?;
        let tools = definitions(obj, FunctionApi::Tools)?;
        let tool_choice = choice(obj, FunctionApi::Tools, &tools)?;
        let parallel_tool_calls = params::boolean(obj, "", "parallel_tool_calls")?;
        if parallel_tool_calls.is_some() && tools.is_empty() {
            return Err(ApiError::only_with("parallel_tool_calls", "tools"));
        }
        let functions = definitions(obj, FunctionApi::Functions)?;
        let function_call = choice(obj, FunctionApi::Functions, &functions)?;
        let response_format = response_format(obj, &messages)?;
        let directives = Directives::parse(messages.iter().map(|message| message.text.as_str()))
            .map_err(|error| ApiError::directive(&error, "messages"))?;

        let definitions = [obj.get("tools"), obj.get("functions")];
        let prompt_tokens = REPLY_PRIMING_TOKENS
            + messages.iter().map(|message| message.tokens).sum::<u64>()
            + definitions
                .iter()
                .flatten()
                .map(|defs| estimate_tokens(&defs.to_string()))
                .sum::<u64>();
        let shaping = json!([
            model,
            obj.get("messages"),
            definitions,
            obj.get("response_format")
        ])
        .to_string();
        Ok(Self {
            model,
            messages,
            n,
            stream,
            include_usage,
            logprobs: logprobs.then_some(top_logprobs),
            stop,
            max_tokens,
            response_format,
            tools,
            tool_choice,
            parallel_tool_calls: parallel_tool_calls.unwrap_or(true),
            functions,
            function_call,
            directives,
            prompt_tokens,
            fingerprint: fingerprint(&[shaping.as_bytes()]),
        })
    }
}

/// Checks the parameters that steer a real model's sampling or the provider's
/// bookkeeping: the fake validates them like OpenAI does, then ignores them.
fn check_passive_parameters(obj: &Object) -> Result<(), ApiError> {
    params::decimal(obj, "", "temperature", 0.0, 2.0)?;
    params::decimal(obj, "", "top_p", 0.0, 1.0)?;
    params::decimal(obj, "", "frequency_penalty", -2.0, 2.0)?;
    params::decimal(obj, "", "presence_penalty", -2.0, 2.0)?;
    params::integer(obj, "", "seed", i64::MIN, i64::MAX)?;
    for key in ["user", "safety_identifier", "prompt_cache_key"] {
        params::string(obj, "", key)?;
    }
    params::boolean(obj, "", "store")?;
    params::one_of(
        obj,
        "",
        "reasoning_effort",
        &["none", "minimal", "low", "medium", "high", "xhigh"],
    )?;
    params::one_of(
        obj,
        "",
        "service_tier",
        &["auto", "default", "flex", "scale", "priority"],
    )?;
    params::one_of(obj, "", "verbosity", &["low", "medium", "high"])?;
    params::one_of(obj, "", "prompt_cache_retention", &["in-memory", "24h"])?;
    params::object(obj, "", "web_search_options")?;
    check_metadata(obj)?;
    check_logit_bias(obj)?;
    check_prediction(obj)?;
    check_output_modalities(obj)?;
    Ok(())
}

fn stream_options(obj: &Object, stream: bool) -> Result<bool, ApiError> {
    let Some(options) = params::object(obj, "", "stream_options")? else {
        return Ok(false);
    };
    if !stream {
        return Err(ApiError::invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            Some("stream_options"),
            None,
        ));
    }
    reject_unknown(
        options,
        "stream_options",
        &["include_usage", "include_obfuscation"],
    )?;
    params::boolean(options, "stream_options", "include_obfuscation")?;
    Ok(params::boolean(options, "stream_options", "include_usage")?.unwrap_or(false))
}

fn stop_sequences(obj: &Object) -> Result<Vec<String>, ApiError> {
    match get(obj, "stop") {
        None => Ok(Vec::new()),
        Some(Value::String(stop)) => Ok(vec![stop.clone()]),
        Some(Value::Array(stops)) if stops.len() > MAX_STOP_SEQUENCES => Err(
            ApiError::array_too_long("stop", MAX_STOP_SEQUENCES, stops.len()),
        ),
        Some(Value::Array(stops)) => stops
            .iter()
            .enumerate()
            .map(|(index, stop)| {
                stop.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::invalid_type(&format!("stop[{index}]"), "a string", stop)
                })
            })
            .collect(),
        Some(other) => Err(ApiError::invalid_type(
            "stop",
            "one of a string or array of strings",
            other,
        )),
    }
}

fn response_format(obj: &Object, messages: &[Message]) -> Result<ResponseFormat, ApiError> {
    const AT: &str = "response_format";
    let Some(format) = params::object(obj, "", AT)? else {
        return Ok(ResponseFormat::Text);
    };
    let kind = params::one_of(format, AT, "type", &["text", "json_object", "json_schema"])?
        .ok_or_else(|| ApiError::missing(&param(AT, "type")))?;
    match kind {
        "text" => {
            reject_unknown(format, AT, &["type"])?;
            Ok(ResponseFormat::Text)
        }
        "json_object" => {
            reject_unknown(format, AT, &["type"])?;
            if !messages
                .iter()
                .any(|message| message.text.to_lowercase().contains("json"))
            {
                return Err(ApiError::invalid(
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type \
                     'json_object'.",
                    Some("messages"),
                    None,
                ));
            }
            Ok(ResponseFormat::JsonObject)
        }
        _ => {
            reject_unknown(format, AT, &["type", "json_schema"])?;
            let at = param(AT, "json_schema");
            let spec =
                params::object(format, AT, "json_schema")?.ok_or_else(|| ApiError::missing(&at))?;
            reject_unknown(spec, &at, &["name", "description", "schema", "strict"])?;
            check_name(
                params::required_string(spec, &at, "name")?,
                &param(&at, "name"),
            )?;
            params::string(spec, &at, "description")?;
            params::boolean(spec, &at, "strict")?;
            let schema = params::object(spec, &at, "schema")?
                .cloned()
                .unwrap_or_default();
            Ok(ResponseFormat::JsonSchema(Value::Object(schema)))
        }
    }
}

fn check_metadata(obj: &Object) -> Result<(), ApiError> {
    let Some(metadata) = params::object(obj, "", "metadata")? else {
        return Ok(());
    };
    if metadata.len() > 16 {
        return Err(ApiError::invalid(
            format!(
                "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got \
                 {} instead.",
                metadata.len()
            ),
            Some("metadata"),
            Some("object_above_max_properties"),
        ));
    }
    for (key, value) in metadata {
        let at = param("metadata", key);
        let text = value
            .as_str()
            .ok_or_else(|| ApiError::invalid_type(&at, "a string", value))?;
        if key.chars().count() > 64 || text.chars().count() > 512 {
            return Err(ApiError::invalid(
                format!(
                    "Invalid '{at}': metadata keys are limited to 64 characters and values to 512."
                ),
                Some(&at),
                Some("invalid_value"),
            ));
        }
    }
    Ok(())
}

fn check_logit_bias(obj: &Object) -> Result<(), ApiError> {
    let Some(bias) = params::object(obj, "", "logit_bias")? else {
        return Ok(());
    };
    for key in bias.keys() {
        if key.parse::<u32>().is_err() {
            return Err(ApiError::invalid(
                format!("Invalid key in 'logit_bias': {key}. Should be an integer token ID."),
                Some("logit_bias"),
                Some("invalid_value"),
            ));
        }
        params::decimal(bias, "logit_bias", key, -100.0, 100.0)?;
    }
    Ok(())
}

fn check_prediction(obj: &Object) -> Result<(), ApiError> {
    let Some(prediction) = params::object(obj, "", "prediction")? else {
        return Ok(());
    };
    reject_unknown(prediction, "prediction", &["type", "content"])?;
    params::one_of(prediction, "prediction", "type", &["content"])?
        .ok_or_else(|| ApiError::missing("prediction.type"))?;
    match get(prediction, "content") {
        Some(Value::String(_) | Value::Array(_)) => Ok(()),
        Some(other) => Err(ApiError::invalid_type(
            "prediction.content",
            "one of a string or array of objects",
            other,
        )),
        None => Err(ApiError::missing("prediction.content")),
    }
}

/// Text is the only output the fake can produce; asking for audio is refused loudly.
fn check_output_modalities(obj: &Object) -> Result<(), ApiError> {
    if let Some(modalities) = params::array(obj, "", "modalities")? {
        for (index, modality) in modalities.iter().enumerate() {
            let at = format!("modalities[{index}]");
            match modality.as_str() {
                Some("text") => {}
                Some("audio") => {
                    return Err(ApiError::unsupported(
                        "gateway-fakes does not simulate audio output.",
                        "modalities",
                    ));
                }
                Some(other) => return Err(ApiError::invalid_value(&at, other, &["text", "audio"])),
                None => return Err(ApiError::invalid_type(&at, "a string", modality)),
            }
        }
    }
    if get(obj, "audio").is_some() {
        return Err(ApiError::unsupported(
            "gateway-fakes does not simulate audio output.",
            "audio",
        ));
    }
    Ok(())
}
