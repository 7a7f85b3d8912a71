//! Validation of function definitions (`tools`, or the deprecated `functions`) and of
//! the choice among them (`tool_choice`, or the deprecated `function_call`).

use serde_json::Value;

use super::{
    error::ApiError,
    params::{self, Object, get, param, reject_unknown},
};

const MAX_TOOLS: usize = 128;

pub(super) struct Function {
    pub name: String,
    pub parameters: Option<Value>,
}

/// The two generations of function calling in Chat Completions.
#[derive(Clone, Copy, Debug)]
pub(super) enum FunctionApi {
    /// `tools` and `tool_choice`.
    Tools,
    /// The deprecated `functions` and `function_call`.
    Functions,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ToolChoice {
    None,
    Auto,
    Required,
    Named(String),
}

impl FunctionApi {
    fn list_key(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Functions => "functions",
        }
    }

    fn modes(self) -> &'static [&'static str] {
        match self {
            Self::Tools => &["none", "auto", "required"],
            Self::Functions => &["none", "auto"],
        }
    }

    fn choice_key(self) -> &'static str {
        match self {
            Self::Tools => "tool_choice",
            Self::Functions => "function_call",
        }
    }
}

/// The function definitions: `{type, function}` items in `tools`, bare definitions in
/// `functions`.
pub(super) fn definitions(obj: &Object, api: FunctionApi) -> Result<Vec<Function>, ApiError> {
    let key = api.list_key();
    let Some(items) = params::array(obj, "", key)? else {
        return Ok(Vec::new());
    };
    if items.is_empty() {
        return Err(ApiError::empty_array(key));
    }
    if items.len() > MAX_TOOLS {
        return Err(ApiError::array_too_long(key, MAX_TOOLS, items.len()));
    }
    let mut functions = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = format!("{key}[{index}]");
        let item = item
            .as_object()
            .ok_or_else(|| ApiError::invalid_type(&at, "an object", item))?;
        let definition = if let FunctionApi::Tools = api {
            reject_unknown(item, &at, &["type", "function"])?;
            params::one_of(item, &at, "type", &["function"])?
                .ok_or_else(|| ApiError::missing(&param(&at, "type")))?;
            let function_at = param(&at, "function");
            let function = params::object(item, &at, "function")?
                .ok_or_else(|| ApiError::missing(&function_at))?;
            function_definition(function, &function_at)?
        } else {
            function_definition(item, &at)?
        };
        functions.push(definition);
    }
    Ok(functions)
}

fn function_definition(obj: &Object, at: &str) -> Result<Function, ApiError> {
    reject_unknown(obj, at, &["name", "description", "parameters", "strict"])?;
    let name = params::required_string(obj, at, "name")?;
    check_name(name, &param(at, "name"))?;
    params::string(obj, at, "description")?;
    params::boolean(obj, at, "strict")?;
    let parameters =
        params::object(obj, at, "parameters")?.map(|schema| Value::Object(schema.clone()));
    Ok(Function {
        name: name.to_owned(),
        parameters,
    })
}

/// Function and schema names: `^[a-zA-Z0-9_-]{1,64}$`.
pub(super) fn check_name(name: &str, at: &str) -> Result<(), ApiError> {
    if name.len() > 64 {
        return Err(ApiError::invalid(
            format!(
                "Invalid '{at}': string too long. Expected a string with maximum length 64, but got a string with \
                 length {} instead.",
                name.len()
            ),
            Some(at),
            Some("string_above_max_length"),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::invalid(
            format!(
                "Invalid '{at}': string does not match pattern. Expected a string that matches the pattern \
                 '^[a-zA-Z0-9_-]+$'."
            ),
            Some(at),
            Some("invalid_value"),
        ));
    }
    Ok(())
}

/// `tool_choice` or `function_call`, checked against the defined `functions`.
pub(super) fn choice(
    obj: &Object,
    api: FunctionApi,
    functions: &[Function],
) -> Result<ToolChoice, ApiError> {
    let key = api.choice_key();
    let Some(value) = get(obj, key) else {
        return Ok(ToolChoice::Auto);
    };
    if functions.is_empty() {
        return Err(ApiError::only_with(key, api.list_key()));
    }
    let name = match value {
        Value::String(mode) => {
            return match mode.as_str() {
                "none" => Ok(ToolChoice::None),
                "auto" => Ok(ToolChoice::Auto),
                "required" if matches!(api, FunctionApi::Tools) => Ok(ToolChoice::Required),
                other => Err(ApiError::invalid_value(key, other, api.modes())),
            };
        }
        Value::Object(named) if matches!(api, FunctionApi::Tools) => {
            reject_unknown(named, key, &["type", "function"])?;
            params::one_of(named, key, "type", &["function"])?
                .ok_or_else(|| ApiError::missing(&param(key, "type")))?;
            let function_at = param(key, "function");
            let function = params::object(named, key, "function")?
                .ok_or_else(|| ApiError::missing(&function_at))?;
            reject_unknown(function, &function_at, &["name"])?;
            params::required_string(function, &function_at, "name")?
        }
        Value::Object(named) => {
            reject_unknown(named, key, &["name"])?;
            params::required_string(named, key, "name")?
        }
        other => {
            return Err(ApiError::invalid_type(
                key,
                "one of a string or object",
                other,
            ));
        }
    };
    if !functions.iter().any(|function| function.name == name) {
        return Err(ApiError::invalid(
            format!(
                "Invalid value for '{key}': no function named '{name}' was specified in the '{}' parameter.",
                api.list_key()
            ),
            Some(key),
            None,
        ));
    }
    Ok(ToolChoice::Named(name.to_owned()))
}
