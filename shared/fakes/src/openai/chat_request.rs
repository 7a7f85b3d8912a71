//! Validation of Chat Completions requests, as strict as the dialect's provider, producing the
//! [`ChatRequest`] a reply is generated from.

use serde_json::{Value, json};

use super::{
    chat_messages::{Message, MessageRules, check_tool_sequence},
    chat_reply::StreamUsage,
    chat_tools::{Function, FunctionApi, ToolChoice, ToolRules, check_name, choice, definitions},
    dialects::Rules,
    error::ApiError,
    families,
    params::{self, Field, Object, get, param, reject_unknown},
};
use crate::{
    content::{estimate_tokens, fingerprint},
    directives::Directives,
};

/// Prompt tokens OpenAI adds to every request to prime the reply.
const REPLY_PRIMING_TOKENS: u64 = 3;

/// What a dialect accepts in a Chat Completions request.
pub(super) struct ChatRules {
    /// The parameters that shape the reply. Together with `passive`, every parameter
    /// the dialect takes.
    pub active: &'static [&'static str],
    /// Parameters that are validated, then ignored, in the order they are checked; in
    /// groups, so dialects can share one (OpenAI's sampling parameters).
    pub passive: &'static [&'static [Field]],
    pub max_n: i64,
    /// Least `max_tokens` / `max_completion_tokens`.
    pub min_max_tokens: i64,
    pub logprobs: Logprobs,
    /// The keys of `stream_options`, where it is a parameter.
    pub stream_options: &'static [&'static str],
    pub stream_usage: StreamUsage,
    pub stop: StopRules,
    pub messages: MessageRules,
    pub tools: ToolRules,
    pub response_format: FormatRules,
    /// Whether OpenAI's per-family rules apply ([`super::families`]).
    pub openai_model_families: bool,
}

/// How log probabilities are asked for.
#[derive(Clone, Copy)]
pub(super) enum Logprobs {
    /// `logprobs: true`, with `top_logprobs: 0..=20` alternatives.
    Flag,
    /// `logprobs: 0..=20`, the number of alternatives.
    Count,
}

pub(super) struct StopRules {
    /// Whether a single string is accepted besides an array of strings.
    pub string: bool,
    pub max: Option<usize>,
}

pub(super) struct FormatRules {
    pub type_required: bool,
    /// The keys of a `text` or `json_object` format.
    pub plain_keys: &'static [&'static str],
    /// Whether `json_object` needs the word "json" in the messages, as OpenAI's does.
    pub json_word: bool,
    pub schema_required: bool,
}

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
    pub(super) fn parse(body: &Value, dialect: &Rules) -> Result<Self, ApiError> {
        let rules = &dialect.chat;
        let obj = dialect.request(body, rules.active, rules.passive)?;
        let model = params::model(obj)?;
        if rules.openai_model_families {
            families::check(obj, &model)?;
        }
        let raw_messages =
            params::array(obj, "", "messages")?.ok_or_else(|| ApiError::missing("messages"))?;
        if raw_messages.is_empty() {
            return Err(ApiError::empty_array("messages"));
        }
        let messages = raw_messages
            .iter()
            .enumerate()
            .map(|(index, message)| Message::parse(index, message, &rules.messages))
            .collect::<Result<Vec<_>, _>>()?;
        check_tool_sequence(&messages)?;

        for field in rules.passive.iter().copied().flatten() {
            field.apply(obj, "")?;
        }
        let n = params::integer(obj, "", "n", 1, rules.max_n)?.unwrap_or(1) as usize;
        let logprobs = match rules.logprobs {
            Logprobs::Flag => {
                let logprobs = params::boolean(obj, "", "logprobs")?.unwrap_or(false);
                let top = params::integer(obj, "", "top_logprobs", 0, 20)?.unwrap_or(0) as usize;
                logprobs.then_some(top)
            }
            Logprobs::Count => params::integer(obj, "", "logprobs", 0, 20)?
                .filter(|top| *top > 0)
                .map(|top| top as usize),
        };
        let max_tokens = ["max_tokens", "max_completion_tokens"]
            .into_iter()
            .map(|key| params::integer(obj, "", key, rules.min_max_tokens, i64::MAX))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .min()
            .map(|max| usize::try_from(max).unwrap_or(usize::MAX));

        let stream = params::boolean(obj, "", "stream")?.unwrap_or(false);
        let include_usage = stream_options(obj, stream, rules.stream_options)?;
        let stop = stop_sequences(obj, &rules.stop)?;
        let tools = definitions(obj, FunctionApi::Tools, &rules.tools)?;
        let tool_choice = choice(obj, FunctionApi::Tools, &tools, &rules.tools)?;
        let parallel_tool_calls = params::boolean(obj, "", "parallel_tool_calls")?;
        if parallel_tool_calls.is_some() && tools.is_empty() && rules.tools.choice_needs_definitions
        {
            return Err(ApiError::only_with("parallel_tool_calls", "tools"));
        }
        let functions = definitions(obj, FunctionApi::Functions, &rules.tools)?;
        let function_call = choice(obj, FunctionApi::Functions, &functions, &rules.tools)?;
        let response_format = response_format(obj, &messages, &rules.response_format)?;
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
            logprobs,
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

fn stream_options(obj: &Object, stream: bool, keys: &[&str]) -> Result<bool, ApiError> {
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
    reject_unknown(options, "stream_options", keys)?;
    params::boolean(options, "stream_options", "include_obfuscation")?;
    Ok(params::boolean(options, "stream_options", "include_usage")?.unwrap_or(false))
}

fn stop_sequences(obj: &Object, rules: &StopRules) -> Result<Vec<String>, ApiError> {
    let stops = match get(obj, "stop") {
        None => return Ok(Vec::new()),
        Some(Value::String(stop)) if rules.string => return Ok(vec![stop.clone()]),
        Some(Value::Array(stops)) => stops,
        Some(other) if rules.string => {
            return Err(ApiError::invalid_type(
                "stop",
                "one of a string or array of strings",
                other,
            ));
        }
        Some(other) => return Err(ApiError::invalid_type("stop", "an array", other)),
    };
    if let Some(max) = rules.max.filter(|max| stops.len() > *max) {
        return Err(ApiError::array_too_long("stop", max, stops.len()));
    }
    stops
        .iter()
        .enumerate()
        .map(|(index, stop)| {
            stop.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::invalid_type(&format!("stop[{index}]"), "a string", stop))
        })
        .collect()
}

fn response_format(
    obj: &Object,
    messages: &[Message],
    rules: &FormatRules,
) -> Result<ResponseFormat, ApiError> {
    const AT: &str = "response_format";
    let Some(format) = params::object(obj, "", AT)? else {
        return Ok(ResponseFormat::Text);
    };
    let kind = match params::one_of(format, AT, "type", &["text", "json_object", "json_schema"])? {
        Some(kind) => kind,
        None if rules.type_required => return Err(ApiError::missing(&param(AT, "type"))),
        None => "text",
    };
    match kind {
        "text" => {
            reject_unknown(format, AT, rules.plain_keys)?;
            Ok(ResponseFormat::Text)
        }
        "json_object" => {
            reject_unknown(format, AT, rules.plain_keys)?;
            if rules.json_word
                && !messages
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
            let schema = params::object(spec, &at, "schema")?;
            if schema.is_none() && rules.schema_required {
                return Err(ApiError::missing(&param(&at, "schema")));
            }
            let schema = schema.cloned().unwrap_or_default();
            Ok(ResponseFormat::JsonSchema(Value::Object(schema)))
        }
    }
}
