//! Validation of function definitions (`tools`, or the deprecated `functions`) and of
//! the choice among them (`tool_choice`, or the deprecated `function_call`), by the
//! dialect's [`ToolRules`].

use serde_json::Value;

use super::{
    error::ApiError,
    params::{self, Object, get, param, reject_unknown},
};

/// What a dialect accepts in `tools`, `functions`, `tool_choice` and `function_call`.
pub(super) struct ToolRules {
    /// Most definitions in one list, if limited.
    pub max: Option<usize>,
    /// Whether each `tools` item must say `"type"`.
    pub type_required: bool,
    /// The `tools[].type` values; `None` when any string is accepted (only `function`
    /// tools are simulated).
    pub types: Option<&'static [&'static str]>,
    /// The keys of a function definition.
    pub function_keys: &'static [&'static str],
    pub parameters_required: bool,
    /// The `tool_choice` strings and what each means.
    pub tool_modes: &'static [(&'static str, ToolChoice)],
    /// The `function_call` strings and what each means.
    pub function_modes: &'static [(&'static str, ToolChoice)],
    /// The keys of a named `tool_choice` and of its `function`.
    pub named_keys: &'static [&'static str],
    pub named_function_keys: &'static [&'static str],
    pub named_type_required: bool,
    /// Whether `tool_choice`, `function_call` and `parallel_tool_calls` need definitions.
    pub choice_needs_definitions: bool,
}

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

    fn modes(self, rules: &ToolRules) -> &'static [(&'static str, ToolChoice)] {
        match self {
            Self::Tools => rules.tool_modes,
            Self::Functions => rules.function_modes,
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
pub(super) fn definitions(
    obj: &Object,
    api: FunctionApi,
    rules: &ToolRules,
) -> Result<Vec<Function>, ApiError> {
    let key = api.list_key();
    let Some(items) = params::array(obj, "", key)? else {
        return Ok(Vec::new());
    };
    if items.is_empty() {
        return Err(ApiError::empty_array(key));
    }
    if let Some(max) = rules.max.filter(|max| items.len() > *max) {
        return Err(ApiError::array_too_long(key, max, items.len()));
    }
    let mut functions = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = format!("{key}[{index}]");
        let item = item
            .as_object()
            .ok_or_else(|| ApiError::invalid_type(&at, "an object", item))?;
        let definition = if let FunctionApi::Tools = api {
            reject_unknown(item, &at, &["type", "function"])?;
            let kind = match rules.types {
                Some(types) => params::one_of(item, &at, "type", types)?,
                None => params::string(item, &at, "type")?,
            };
            match kind {
                None if rules.type_required => {
                    return Err(ApiError::missing(&param(&at, "type")));
                }
                Some(kind) if kind != "function" => {
                    return Err(ApiError::unsupported(
                        format!("gateway-fakes only simulates function tools, not '{kind}'."),
                        &param(&at, "type"),
                    ));
                }
                _ => {}
            }
            let function_at = param(&at, "function");
            let function = params::object(item, &at, "function")?
                .ok_or_else(|| ApiError::missing(&function_at))?;
            function_definition(function, &function_at, rules)?
        } else {
            function_definition(item, &at, rules)?
        };
        functions.push(definition);
    }
    Ok(functions)
}

fn function_definition(obj: &Object, at: &str, rules: &ToolRules) -> Result<Function, ApiError> {
    reject_unknown(obj, at, rules.function_keys)?;
    let name = params::required_string(obj, at, "name")?;
    check_name(name, &param(at, "name"))?;
    params::string(obj, at, "description")?;
    params::boolean(obj, at, "strict")?;
    let parameters =
        params::object(obj, at, "parameters")?.map(|schema| Value::Object(schema.clone()));
    if parameters.is_none() && rules.parameters_required {
        return Err(ApiError::missing(&param(at, "parameters")));
    }
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
    rules: &ToolRules,
) -> Result<ToolChoice, ApiError> {
    let key = api.choice_key();
    let Some(value) = get(obj, key) else {
        return Ok(ToolChoice::Auto);
    };
    if functions.is_empty() && rules.choice_needs_definitions {
        return Err(ApiError::only_with(key, api.list_key()));
    }
    let name = match value {
        Value::String(mode) => {
            let modes = api.modes(rules);
            return match modes.iter().find(|(name, _)| name == mode) {
                Some((_, choice)) => Ok(choice.clone()),
                None => {
                    let names: Vec<&str> = modes.iter().map(|(name, _)| *name).collect();
                    Err(ApiError::invalid_value(key, mode, &names))
                }
            };
        }
        Value::Object(named) if matches!(api, FunctionApi::Tools) => {
            reject_unknown(named, key, rules.named_keys)?;
            let kind = params::one_of(named, key, "type", &["function"])?;
            if kind.is_none() && rules.named_type_required {
                return Err(ApiError::missing(&param(key, "type")));
            }
            let function_at = param(key, "function");
            let function = params::object(named, key, "function")?
                .ok_or_else(|| ApiError::missing(&function_at))?;
            reject_unknown(function, &function_at, rules.named_function_keys)?;
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
