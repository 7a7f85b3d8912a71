//! Validation of a `GenerateContentRequest` as the real API does it: every field known to
//! the published schema (camelCase or the proto's snake_case, as Google's JSON parser takes
//! both), the right JSON types and ranges, one kind of data per part, no empty text, every
//! function call answered by a function response in the next turn, and the options that
//! only make sense together. What the fake cannot simulate (cached content, server-side
//! tools) is refused loudly.

use serde_json::{Map, Value};

use super::error::GoogleError;
use crate::{
    content::{estimate_tokens, fingerprint},
    directives::Directives,
};

const REQUEST_FIELDS: &[&str] = &[
    "model",
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
];
const CONTENT_FIELDS: &[&str] = &["role", "parts"];
const PART_FIELDS: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "thought",
    "thoughtSignature",
    "videoMetadata",
];
/// The members of `Part`'s `data` oneof.
const PART_DATA: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
];
const TOOL_FIELDS: &[&str] = &[
    "functionDeclarations",
    "googleSearchRetrieval",
    "codeExecution",
    "googleSearch",
    "urlContext",
];
const DECLARATION_FIELDS: &[&str] = &[
    "name",
    "description",
    "behavior",
    "parameters",
    "parametersJsonSchema",
    "response",
    "responseJsonSchema",
];
const GENERATION_FIELDS: &[&str] = &[
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "mediaResolution",
];
const MIME_TYPES: &[&str] = &["text/plain", "application/json", "text/x.enum"];
const MODES: &[&str] = &["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"];

/// A validated request, reduced to what the reply depends on.
pub(super) struct GenerateRequest {
    pub model: String,
    pub turns: Vec<Turn>,
    pub functions: Vec<Function>,
    pub mode: Mode,
    pub allowed: Vec<String>,
    pub stop: Vec<String>,
    pub max_output_tokens: Option<usize>,
    pub candidate_count: usize,
    pub json: Option<Option<Value>>,
    /// `Some(top)` when log probabilities were asked for.
    pub logprobs: Option<usize>,
    pub directives: Directives,
    pub fingerprint: u64,
    pub prompt_tokens: u64,
}

pub(super) struct Turn {
    pub role: String,
    pub texts: Vec<String>,
    /// Each function response's `response` object, in order.
    pub responses: Vec<Value>,
    pub calls: usize,
    /// Whether any part carries a thought signature.
    pub signed: bool,
}

pub(super) struct Function {
    pub name: String,
    pub schema: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Auto,
    Any,
    None,
}

impl GenerateRequest {
    pub(super) fn parse(body: &Value, model: &str) -> Result<Self, GoogleError> {
        let root = object(body, "")?;
        let top = fields(root, "", REQUEST_FIELDS)?;
        if let Some(cached) = field(&top, "cachedContent") {
            string(cached, "cached_content")?;
            return Err(GoogleError::not_simulated(
                "cached_content",
                "Cached content",
            ));
        }
        if let Some(name) = field(&top, "model") {
            check_model_name(name, model, "model")?;
        }
        let contents = field(&top, "contents").ok_or_else(|| {
            GoogleError::invalid(
                "contents",
                "* GenerateContentRequest.contents: contents is not specified",
            )
        })?;
        let contents = array(contents, "contents")?;
        if contents.is_empty() {
            return Err(GoogleError::invalid(
                "contents",
                "* GenerateContentRequest.contents: contents is not specified",
            ));
        }
        let mut turns = Vec::with_capacity(contents.len());
        for (i, content) in contents.iter().enumerate() {
            turns.push(turn(content, &format!("contents[{i}]"), false)?);
        }
        check_function_turns(&turns)?;
        // Gemini 3 refuses function calls sent back without the signature it gave them.
        if model.starts_with("gemini-3")
            && let Some(i) = turns.iter().position(|t| t.calls > 0 && !t.signed)
        {
            return Err(GoogleError::invalid(
                &format!("contents[{i}]"),
                "Function call is missing a thought_signature in functionCall parts. This is \
                 required for tools to work correctly.",
            ));
        }
        let system = match field(&top, "systemInstruction") {
            Some(system) => Some(turn(system, "system_instruction", true)?),
            None => None,
        };
        let (functions, mode, allowed) = tools(&top)?;
        let generation = match field(&top, "generationConfig") {
            Some(config) => generation(config)?,
            None => Generation::default(),
        };
        if let Some(settings) = field(&top, "safetySettings") {
            for (i, setting) in array(settings, "safety_settings")?.iter().enumerate() {
                let at = format!("safety_settings[{i}]");
                let s = fields(
                    object(setting, &at)?,
                    &at,
                    &["category", "threshold", "method"],
                )?;
                for key in ["category", "threshold"] {
                    let value = field(&s, key)
                        .ok_or_else(|| GoogleError::invalid(&at, format!("{key} is required")))?;
                    string(value, &format!("{at}.{key}"))?;
                }
            }
        }
        let texts: Vec<&str> = system
            .iter()
            .chain(&turns)
            .flat_map(|t| t.texts.iter().map(String::as_str))
            .collect();
        let directives =
            Directives::parse(texts.iter().copied()).map_err(|e| GoogleError::directive(&e))?;
        let prompt_tokens = texts.iter().map(|t| estimate_tokens(t)).sum::<u64>().max(1)
            + turns
                .iter()
                .map(|t| t.responses.len() as u64 * 4)
                .sum::<u64>();
        let fingerprint = fingerprint(&[model.as_bytes(), body.to_string().as_bytes()]);
        Ok(Self {
            model: model.to_owned(),
            turns,
            functions,
            mode,
            allowed,
            stop: generation.stop,
            max_output_tokens: generation.max_output_tokens,
            candidate_count: generation.candidate_count,
            json: generation.json,
            logprobs: generation.logprobs,
            directives,
            fingerprint,
            prompt_tokens,
        })
    }

    /// Whether the conversation ends with the results of function calls.
    pub(super) fn answering_tool(&self) -> bool {
        self.turns.last().is_some_and(|t| !t.responses.is_empty())
    }
}

/// `models/{model}` in a body must name the model of the URL.
pub(super) fn check_model_name(name: &Value, model: &str, at: &str) -> Result<(), GoogleError> {
    let name = string(name, at)?;
    if name != format!("models/{model}") && name != model {
        return Err(GoogleError::invalid(
            at,
            format!("Model name `{name}` does not match the model in the URL (`models/{model}`)."),
        ));
    }
    Ok(())
}

fn turn(content: &Value, at: &str, system: bool) -> Result<Turn, GoogleError> {
    let f = fields(object(content, at)?, at, CONTENT_FIELDS)?;
    let role = match field(&f, "role") {
        Some(role) => string(role, &format!("{at}.role"))?.to_owned(),
        None => String::new(),
    };
    if !system && !matches!(role.as_str(), "user" | "model") {
        return Err(GoogleError::invalid(
            &format!("{at}.role"),
            format!("Please use a valid role: user, model. Got `{role}`."),
        ));
    }
    let parts = match field(&f, "parts") {
        Some(parts) => array(parts, &format!("{at}.parts"))?,
        None => &[][..],
    };
    if parts.is_empty() {
        return Err(GoogleError::invalid(
            &format!("{at}.parts"),
            "Unable to submit request because it must include at least one parts field, which describes the prompt input.",
        ));
    }
    let mut turn = Turn {
        role,
        texts: Vec::new(),
        responses: Vec::new(),
        calls: 0,
        signed: false,
    };
    for (k, part) in parts.iter().enumerate() {
        let at = format!("{at}.parts[{k}]");
        let p = fields(object(part, &at)?, &at, PART_FIELDS)?;
        let data: Vec<&str> = PART_DATA
            .iter()
            .copied()
            .filter(|d| p.iter().any(|(k, _)| k == d))
            .collect();
        match data.as_slice() {
            [] => {
                return Err(GoogleError::invalid(
                    &at,
                    "Unable to submit request because it must include at least one parts field, which describes the prompt input.",
                ));
            }
            [_] => {}
            [first, second, ..] => {
                return Err(GoogleError::invalid(
                    &at,
                    format!(
                        "Invalid value at '{at}' (oneof), oneof field 'data' is already set. Cannot overwrite '{first}' with '{second}'."
                    ),
                ));
            }
        }
        if let Some(thought) = field(&p, "thought") {
            boolean(thought, &format!("{at}.thought"))?;
        }
        if let Some(signature) = field(&p, "thoughtSignature") {
            let signature = string(signature, &format!("{at}.thought_signature"))?;
            if !is_base64(signature) {
                return Err(GoogleError::invalid(
                    &format!("{at}.thought_signature"),
                    format!(
                        "Invalid value at '{at}.thought_signature' (TYPE_BYTES), Base64 decoding failed."
                    ),
                ));
            }
            turn.signed = true;
        }
        if field(&p, "videoMetadata").is_some() {
            return Err(GoogleError::not_simulated(&at, "Video metadata"));
        }
        match data[0] {
            "text" => {
                let text = string(p_get(&p, "text"), &format!("{at}.text"))?;
                if text.is_empty() {
                    return Err(GoogleError::invalid(
                        &format!("{at}.text"),
                        "Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.",
                    ));
                }
                turn.texts.push(text.to_owned());
            }
            "inlineData" => blob(p_get(&p, "inlineData"), &format!("{at}.inline_data"))?,
            "fileData" => file_data(p_get(&p, "fileData"), &format!("{at}.file_data"))?,
            "functionCall" => {
                let at = format!("{at}.function_call");
                let c = fields(
                    object(p_get(&p, "functionCall"), &at)?,
                    &at,
                    &["id", "name", "args"],
                )?;
                function_name(field(&c, "name"), &format!("{at}.name"))?;
                if let Some(args) = field(&c, "args") {
                    object(args, &format!("{at}.args"))?;
                }
                turn.calls += 1;
            }
            "functionResponse" => {
                let at = format!("{at}.function_response");
                let r = fields(
                    object(p_get(&p, "functionResponse"), &at)?,
                    &at,
                    &[
                        "id",
                        "name",
                        "response",
                        "willContinue",
                        "scheduling",
                        "parts",
                    ],
                )?;
                function_name(field(&r, "name"), &format!("{at}.name"))?;
                let response = field(&r, "response").ok_or_else(|| {
                    GoogleError::invalid(&format!("{at}.response"), "response is required")
                })?;
                object(response, &format!("{at}.response"))?;
                turn.responses.push(response.clone());
            }
            other => return Err(GoogleError::not_simulated(&at, other)),
        }
    }
    if system && (turn.calls > 0 || !turn.responses.is_empty()) {
        return Err(GoogleError::invalid(
            "system_instruction",
            "system_instruction takes text parts only.",
        ));
    }
    Ok(turn)
}

/// Each `model` turn with function calls is followed by a `user` turn answering all of them.
fn check_function_turns(turns: &[Turn]) -> Result<(), GoogleError> {
    for (i, turn) in turns.iter().enumerate() {
        if !turn.responses.is_empty() && turn.role != "user" {
            return Err(GoogleError::invalid(
                &format!("contents[{i}]"),
                "Function responses must be sent in a turn with the user role.",
            ));
        }
        if turn.calls > 0 && turn.role != "model" {
            return Err(GoogleError::invalid(
                &format!("contents[{i}]"),
                "Function calls can only come from the model role.",
            ));
        }
        let answered = turns.get(i + 1).map_or(0, |next| next.responses.len());
        let asked = turn.calls;
        let answers_prior = i > 0 && turns[i - 1].calls > 0;
        if (asked > 0 && i + 1 < turns.len() && answered != asked)
            || (!turn.responses.is_empty() && !answers_prior)
        {
            return Err(GoogleError::invalid(
                &format!("contents[{i}]"),
                "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
            ));
        }
    }
    Ok(())
}

fn blob(value: &Value, at: &str) -> Result<(), GoogleError> {
    let b = fields(object(value, at)?, at, &["mimeType", "data"])?;
    let mime =
        field(&b, "mimeType").ok_or_else(|| GoogleError::invalid(at, "mime_type is required"))?;
    string(mime, &format!("{at}.mime_type"))?;
    let data = field(&b, "data").ok_or_else(|| GoogleError::invalid(at, "data is required"))?;
    let data = string(data, &format!("{at}.data"))?;
    if !is_base64(data) {
        return Err(GoogleError::invalid(
            &format!("{at}.data"),
            format!("Invalid value at '{at}.data' (TYPE_BYTES), Base64 decoding failed."),
        ));
    }
    Ok(())
}

/// Standard or URL-safe base64, as Google's JSON parser takes bytes.
fn is_base64(data: &str) -> bool {
    !data.is_empty()
        && data
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'-' | b'_'))
}

fn file_data(value: &Value, at: &str) -> Result<(), GoogleError> {
    let f = fields(object(value, at)?, at, &["mimeType", "fileUri"])?;
    if let Some(mime) = field(&f, "mimeType") {
        string(mime, &format!("{at}.mime_type"))?;
    }
    let uri =
        field(&f, "fileUri").ok_or_else(|| GoogleError::invalid(at, "file_uri is required"))?;
    let uri = string(uri, &format!("{at}.file_uri"))?;
    if !(uri.starts_with("https://") || uri.starts_with("http://") || uri.starts_with("gs://")) {
        return Err(GoogleError::invalid(
            &format!("{at}.file_uri"),
            "Invalid or unsupported file uri.",
        ));
    }
    Ok(())
}

/// `[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}`.
fn function_name(name: Option<&Value>, at: &str) -> Result<String, GoogleError> {
    let name = name.ok_or_else(|| GoogleError::invalid(at, "name is required"))?;
    let name = string(name, at)?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
        && name.len() <= 64;
    if !valid {
        return Err(GoogleError::invalid(
            at,
            format!(
                "Invalid function name `{name}`: it must start with a letter or an underscore, contain only a-z, A-Z, 0-9, underscores, dots, colons and dashes, and be at most 64 characters."
            ),
        ));
    }
    Ok(name.to_owned())
}

fn tools(
    fields_: &[(&'static str, &Value)],
) -> Result<(Vec<Function>, Mode, Vec<String>), GoogleError> {
    let mut functions = Vec::new();
    if let Some(tools) = field(fields_, "tools") {
        for (i, tool) in array(tools, "tools")?.iter().enumerate() {
            let at = format!("tools[{i}]");
            let t = fields(object(tool, &at)?, &at, TOOL_FIELDS)?;
            if let Some((name, _)) = t.iter().find(|(k, _)| *k != "functionDeclarations") {
                return Err(GoogleError::not_simulated(&at, name));
            }
            let Some(declarations) = field(&t, "functionDeclarations") else {
                continue;
            };
            for (j, declaration) in array(declarations, &format!("{at}.function_declarations"))?
                .iter()
                .enumerate()
            {
                let at = format!("{at}.function_declarations[{j}]");
                let d = fields(object(declaration, &at)?, &at, DECLARATION_FIELDS)?;
                let name = function_name(field(&d, "name"), &format!("{at}.name"))?;
                if let Some(description) = field(&d, "description") {
                    string(description, &format!("{at}.description"))?;
                }
                let (legacy, json) = (field(&d, "parameters"), field(&d, "parametersJsonSchema"));
                if legacy.is_some() && json.is_some() {
                    return Err(GoogleError::invalid(
                        &at,
                        "parameters and parameters_json_schema are mutually exclusive.",
                    ));
                }
                let schema = legacy.or(json).cloned();
                if let Some(schema) = &schema {
                    object(schema, &format!("{at}.parameters"))?;
                }
                if functions.iter().any(|f: &Function| f.name == name) {
                    return Err(GoogleError::invalid(
                        &at,
                        format!("Duplicate function declaration: {name}."),
                    ));
                }
                functions.push(Function { name, schema });
            }
        }
    }
    let mut mode = Mode::Auto;
    let mut allowed = Vec::new();
    if let Some(config) = field(fields_, "toolConfig") {
        let c = fields(
            object(config, "tool_config")?,
            "tool_config",
            &["functionCallingConfig", "retrievalConfig"],
        )?;
        if field(&c, "retrievalConfig").is_some() {
            return Err(GoogleError::not_simulated(
                "tool_config",
                "retrieval_config",
            ));
        }
        if let Some(calling) = field(&c, "functionCallingConfig") {
            let at = "tool_config.function_calling_config";
            let f = fields(object(calling, at)?, at, &["mode", "allowedFunctionNames"])?;
            if let Some(m) = field(&f, "mode") {
                mode = match one_of(m, &format!("{at}.mode"), MODES)? {
                    "ANY" => Mode::Any,
                    "NONE" => Mode::None,
                    "VALIDATED" => return Err(GoogleError::not_simulated(at, "VALIDATED mode")),
                    _ => Mode::Auto,
                };
            }
            if let Some(names) = field(&f, "allowedFunctionNames") {
                if mode != Mode::Any {
                    return Err(GoogleError::invalid(
                        at,
                        "allowed_function_names should only be set when the mode is ANY.",
                    ));
                }
                for (i, name) in array(names, &format!("{at}.allowed_function_names"))?
                    .iter()
                    .enumerate()
                {
                    let name = string(name, &format!("{at}.allowed_function_names[{i}]"))?;
                    if !functions.iter().any(|f| f.name == name) {
                        return Err(GoogleError::invalid(
                            at,
                            format!(
                                "allowed_function_names names `{name}`, which is not declared."
                            ),
                        ));
                    }
                    allowed.push(name.to_owned());
                }
            }
        }
    }
    Ok((functions, mode, allowed))
}

struct Generation {
    stop: Vec<String>,
    max_output_tokens: Option<usize>,
    candidate_count: usize,
    json: Option<Option<Value>>,
    logprobs: Option<usize>,
}

impl Default for Generation {
    fn default() -> Self {
        Self {
            stop: Vec::new(),
            max_output_tokens: None,
            candidate_count: 1,
            json: None,
            logprobs: None,
        }
    }
}

fn generation(config: &Value) -> Result<Generation, GoogleError> {
    let at = "generation_config";
    let g = fields(object(config, at)?, at, GENERATION_FIELDS)?;
    let path = |name: &str| format!("{at}.{name}");
    let mut out = Generation::default();
    if let Some(stops) = field(&g, "stopSequences") {
        let stops = array(stops, &path("stop_sequences"))?;
        if stops.len() > 5 {
            return Err(GoogleError::invalid(
                &path("stop_sequences"),
                "The number of stop_sequences must be at most 5.",
            ));
        }
        for (i, stop) in stops.iter().enumerate() {
            out.stop
                .push(string(stop, &path(&format!("stop_sequences[{i}]")))?.to_owned());
        }
    }
    if let Some(count) = field(&g, "candidateCount") {
        out.candidate_count = integer(count, &path("candidate_count"), 1, 8)? as usize;
    }
    if let Some(max) = field(&g, "maxOutputTokens") {
        out.max_output_tokens =
            Some(integer(max, &path("max_output_tokens"), 1, i64::from(i32::MAX))? as usize);
    }
    if let Some(t) = field(&g, "temperature") {
        number(t, &path("temperature"), 0.0, 2.0)?;
    }
    if let Some(p) = field(&g, "topP") {
        number(p, &path("top_p"), 0.0, 1.0)?;
    }
    if let Some(k) = field(&g, "topK") {
        integer(k, &path("top_k"), 1, i64::from(i32::MAX))?;
    }
    if let Some(seed) = field(&g, "seed") {
        integer(
            seed,
            &path("seed"),
            i64::from(i32::MIN),
            i64::from(i32::MAX),
        )?;
    }
    for (key, name) in [
        ("presencePenalty", "presence_penalty"),
        ("frequencyPenalty", "frequency_penalty"),
    ] {
        if let Some(v) = field(&g, key) {
            let v = number(v, &path(name), -2.0, 2.0)?;
            if v >= 2.0 {
                return Err(GoogleError::invalid(
                    &path(name),
                    format!("{name} must be in the range [-2.0, 2.0)."),
                ));
            }
        }
    }
    let mime = match field(&g, "responseMimeType") {
        Some(m) => Some(one_of(m, &path("response_mime_type"), MIME_TYPES)?),
        None => None,
    };
    let (schema, json_schema) = (field(&g, "responseSchema"), field(&g, "responseJsonSchema"));
    if schema.is_some() && json_schema.is_some() {
        return Err(GoogleError::invalid(
            at,
            "response_schema and response_json_schema are mutually exclusive.",
        ));
    }
    if let Some(s) = schema.or(json_schema) {
        object(s, &path("response_json_schema"))?;
        if mime != Some("application/json") {
            return Err(GoogleError::invalid(
                at,
                "response_mime_type must be application/json when a response schema is set.",
            ));
        }
    }
    match mime {
        Some("application/json") => {
            out.json = Some(schema.map(legacy_schema).or_else(|| json_schema.cloned()))
        }
        Some("text/x.enum") => return Err(GoogleError::not_simulated(at, "text/x.enum output")),
        _ => {}
    }
    let wants_logprobs = match field(&g, "responseLogprobs") {
        Some(v) => boolean(v, &path("response_logprobs"))?,
        None => false,
    };
    let top = match field(&g, "logprobs") {
        Some(v) => Some(integer(v, &path("logprobs"), 0, 20)? as usize),
        None => None,
    };
    if top.is_some() && !wants_logprobs {
        return Err(GoogleError::invalid(
            &path("logprobs"),
            "logprobs can only be set when response_logprobs is true.",
        ));
    }
    if wants_logprobs {
        out.logprobs = Some(top.unwrap_or(0));
    }
    if let Some(thinking) = field(&g, "thinkingConfig") {
        let t = fields(
            object(thinking, &path("thinking_config"))?,
            &path("thinking_config"),
            &["includeThoughts", "thinkingBudget"],
        )?;
        if let Some(budget) = field(&t, "thinkingBudget") {
            integer(budget, &path("thinking_config.thinking_budget"), -1, 32_768)?;
        }
        if let Some(include) = field(&t, "includeThoughts") {
            boolean(include, &path("thinking_config.include_thoughts"))?;
        }
    }
    if let Some((name, _)) = g.iter().find(|(k, _)| {
        matches!(
            *k,
            "responseModalities"
                | "speechConfig"
                | "mediaResolution"
                | "enableEnhancedCivicAnswers"
        )
    }) {
        return Err(GoogleError::not_simulated(at, name));
    }
    Ok(out)
}

/// The OpenAPI-subset `Schema` (`"type": "OBJECT"`) as lowercase JSON Schema, for generating
/// a value that satisfies it.
fn legacy_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("type", Value::String(t)) => Value::from(t.to_ascii_lowercase()),
                        _ => legacy_schema(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(legacy_schema).collect()),
        other => other.clone(),
    }
}

/// The object's fields by their camelCase names; an unknown name (in either spelling) or a
/// field given in both spellings is an error.
pub(super) fn fields<'a>(
    object: &'a Map<String, Value>,
    at: &str,
    known: &[&'static str],
) -> Result<Vec<(&'static str, &'a Value)>, GoogleError> {
    let mut out: Vec<(&'static str, &'a Value)> = Vec::with_capacity(object.len());
    for (key, value) in object {
        let camel = camel_case(key);
        let name = known
            .iter()
            .copied()
            .find(|k| *k == camel)
            .ok_or_else(|| GoogleError::unknown_field(at, key))?;
        if out.iter().any(|(k, _)| *k == name) {
            return Err(GoogleError::invalid(
                at,
                format!("Field `{key}` is given twice."),
            ));
        }
        out.push((name, value));
    }
    Ok(out)
}

pub(super) fn field<'a>(fields: &[(&'static str, &'a Value)], name: &str) -> Option<&'a Value> {
    fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

/// A field known to be present (checked by the caller).
fn p_get<'a>(fields: &[(&'static str, &'a Value)], name: &str) -> &'a Value {
    field(fields, name).unwrap_or(&Value::Null)
}

fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn object<'a>(
    value: &'a Value,
    at: &str,
) -> Result<&'a Map<String, Value>, GoogleError> {
    value.as_object().ok_or_else(|| {
        GoogleError::wrong_type(
            if at.is_empty() { "request" } else { at },
            "TYPE_MESSAGE",
            value,
        )
    })
}

pub(super) fn array<'a>(value: &'a Value, at: &str) -> Result<&'a [Value], GoogleError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| GoogleError::wrong_type(at, "TYPE_MESSAGE repeated", value))
}

pub(super) fn string<'a>(value: &'a Value, at: &str) -> Result<&'a str, GoogleError> {
    value
        .as_str()
        .ok_or_else(|| GoogleError::wrong_type(at, "TYPE_STRING", value))
}

fn boolean(value: &Value, at: &str) -> Result<bool, GoogleError> {
    value
        .as_bool()
        .ok_or_else(|| GoogleError::wrong_type(at, "TYPE_BOOL", value))
}

pub(super) fn integer(value: &Value, at: &str, min: i64, max: i64) -> Result<i64, GoogleError> {
    let n = value
        .as_i64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| GoogleError::wrong_type(at, "TYPE_INT32", value))?;
    if n < min || n > max {
        return Err(GoogleError::invalid(
            at,
            format!("{at} must be between {min} and {max}, got {n}."),
        ));
    }
    Ok(n)
}

fn number(value: &Value, at: &str, min: f64, max: f64) -> Result<f64, GoogleError> {
    let n = value
        .as_f64()
        .ok_or_else(|| GoogleError::wrong_type(at, "TYPE_FLOAT", value))?;
    if n < min || n > max {
        return Err(GoogleError::invalid(
            at,
            format!("{at} must be between {min} and {max}, got {n}."),
        ));
    }
    Ok(n)
}

fn one_of<'a>(value: &'a Value, at: &str, allowed: &[&str]) -> Result<&'a str, GoogleError> {
    let s = string(value, at)?;
    if allowed.contains(&s) {
        Ok(s)
    } else {
        Err(GoogleError::invalid(
            at,
            format!(
                "Invalid value at '{at}', \"{s}\": expected one of {}.",
                allowed.join(", ")
            ),
        ))
    }
}
