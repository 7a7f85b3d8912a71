//! Error replies. Most dialects answer OpenAI's `{"error": {"message", "type", "param",
//! "code"}}`, with the messages and codes OpenAI uses for the same mistakes. Mistral answers
//! `{"object": "error", "message", "type", "param", "code"}`, and schema violations there
//! are FastAPI's 422 with a pydantic-style `detail` list, so every validation error also
//! carries that [`Detail`].

use axum::{
    Json,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::directives::DirectiveError;

const INVALID_REQUEST: &str = "invalid_request_error";

/// How a dialect shapes its error replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorStyle {
    /// `{"error": {...}}` with the error's own status.
    OpenAi,
    /// `{"object": "error", ...}`; schema violations become 422 with a `detail` list.
    Mistral,
}

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    param: Option<String>,
    code: Option<&'static str>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    detail: Option<Box<Detail>>,
}

/// A schema violation as pydantic reports it: error type, message and offending input.
/// The location is the error's `param`.
#[derive(Debug)]
struct Detail {
    kind: &'static str,
    msg: String,
    input: Option<Value>,
}

impl ApiError {
    /// A 400 `invalid_request_error`.
    pub(crate) fn invalid(
        message: impl Into<String>,
        param: Option<&str>,
        code: Option<&'static str>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: INVALID_REQUEST,
            param: param.map(str::to_owned),
            code,
            headers: Vec::new(),
            detail: None,
        }
    }

    /// Marks the error as a schema violation, for dialects that report those separately.
    fn violation(
        mut self,
        kind: &'static str,
        msg: impl Into<String>,
        input: Option<&Value>,
    ) -> Self {
        self.detail = Some(Box::new(Detail {
            kind,
            msg: msg.into(),
            input: input.cloned(),
        }));
        self
    }

    pub(crate) fn unparseable_body() -> Self {
        Self::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your \
             HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. \
             If you have trouble figuring out how to fix this, please contact us through our help center at \
             help.openai.com.)",
            None,
            None,
        )
        .violation("json_invalid", "JSON decode error", None)
    }

    /// OpenAI's (and Together's) words for an unknown top-level parameter.
    pub(crate) fn unrecognized_argument(name: &str, value: &Value) -> Self {
        Self::invalid(
            format!("Unrecognized request argument supplied: {name}"),
            Some(name),
            None,
        )
        .extra_forbidden(value)
    }

    /// Groq's words for an unknown top-level parameter.
    pub(crate) fn unsupported_property(name: &str, value: &Value) -> Self {
        Self::invalid(
            format!("property '{name}' is unsupported"),
            Some(name),
            None,
        )
        .extra_forbidden(value)
    }

    pub(crate) fn unknown_parameter(param: &str, value: &Value) -> Self {
        Self::invalid(
            format!("Unknown parameter: '{param}'."),
            Some(param),
            Some("unknown_parameter"),
        )
        .extra_forbidden(value)
    }

    fn extra_forbidden(self, value: &Value) -> Self {
        self.violation(
            "extra_forbidden",
            "Extra inputs are not permitted",
            Some(value),
        )
    }

    /// A required parameter that is absent (or `null`).
    pub(crate) fn missing(param: &str) -> Self {
        Self::invalid(
            format!("Missing required parameter: '{param}'."),
            Some(param),
            Some("missing_required_parameter"),
        )
        .violation("missing", "Field required", None)
    }

    /// OpenAI's own words when `model` is absent.
    pub(crate) fn missing_model() -> Self {
        Self::invalid("you must provide a model parameter", None, None).violation(
            "missing",
            "Field required",
            None,
        )
    }

    pub(crate) fn invalid_type(param: &str, expected: &str, got: &Value) -> Self {
        let (kind, msg) = match expected {
            "a string" => ("string_type", "Input should be a valid string".to_owned()),
            "an integer" => ("int_type", "Input should be a valid integer".to_owned()),
            "a decimal" => ("float_type", "Input should be a valid number".to_owned()),
            "a boolean" => ("bool_type", "Input should be a valid boolean".to_owned()),
            "an object" => ("dict_type", "Input should be a valid dictionary".to_owned()),
            "an array" => ("list_type", "Input should be a valid list".to_owned()),
            other => ("value_error", format!("Input should be {other}")),
        };
        Self::invalid(
            format!(
                "Invalid type for '{param}': expected {expected}, but got {} instead.",
                kind_of(got)
            ),
            Some(param),
            Some("invalid_type"),
        )
        .violation(kind, msg, Some(got))
    }

    pub(crate) fn invalid_value(param: &str, got: &str, supported: &[&str]) -> Self {
        Self::invalid(
            format!(
                "Invalid value: '{got}'. Supported values are: {}.",
                quoted_list(supported)
            ),
            Some(param),
            Some("invalid_value"),
        )
        .violation(
            "literal_error",
            format!("Input should be {}", alternatives(supported)),
            Some(&Value::from(got)),
        )
    }

    /// `kind` is "decimal" or "integer"; `bound` tells which bound was crossed.
    pub(crate) fn out_of_range(param: &str, kind: &'static str, bound: Bound, got: &Value) -> Self {
        let above = matches!(bound, Bound::Max(_));
        let code = match (kind, above) {
            ("integer", true) => "integer_above_max_value",
            ("integer", false) => "integer_below_min_value",
            (_, true) => "decimal_above_max_value",
            (_, false) => "decimal_below_min_value",
        };
        let side = if above {
            "above maximum"
        } else {
            "below minimum"
        };
        let (relation, violation, words) = bound.wording();
        let limit = bound.value();
        Self::invalid(
            format!(
                "Invalid '{param}': {kind} {side} value. Expected a value {relation} {limit}, but got {got} instead."
            ),
            Some(param),
            Some(code),
        )
        .violation(violation, format!("Input should be {words} {limit}"), Some(got))
    }

    pub(crate) fn empty_array(param: &str) -> Self {
        Self::invalid(
            format!(
                "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead."
            ),
            Some(param),
            Some("empty_array"),
        )
        .violation("too_short", "List should have at least 1 item after validation, not 0", None)
    }

    pub(crate) fn array_too_long(param: &str, max: usize, got: usize) -> Self {
        Self::invalid(
            format!(
                "Invalid '{param}': array too long. Expected an array with maximum length {max}, but got an array \
                 with length {got} instead."
            ),
            Some(param),
            Some("array_above_max_length"),
        )
        .violation(
            "too_long",
            format!("List should have at most {max} items after validation, not {got}"),
            None,
        )
    }

    /// A parameter given without the parameter it depends on.
    pub(crate) fn only_with(param: &str, required: &str) -> Self {
        Self::invalid(
            format!(
                "Invalid value for '{param}': '{param}' is only allowed when '{required}' are specified."
            ),
            Some(param),
            None,
        )
    }

    /// A request the real API might serve but this fake cannot simulate.
    pub(crate) fn unsupported(message: impl Into<String>, param: &str) -> Self {
        Self::invalid(message, Some(param), Some("unsupported_by_fake"))
    }

    /// A bad `[[fake ...]]` directive found in the text of `param`.
    pub(crate) fn directive(error: &DirectiveError, param: &str) -> Self {
        Self::invalid(
            error.to_string(),
            Some(param),
            Some("invalid_fake_directive"),
        )
    }

    pub(crate) fn model_not_found(model: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: Some("model_not_found"),
            ..Self::invalid(
                format!("The model `{model}` does not exist or you do not have access to it."),
                None,
                None,
            )
        }
    }

    pub(crate) fn unknown_url(method: &Method, path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            ..Self::invalid(format!("Invalid URL ({method} {path})"), None, None)
        }
    }

    pub(crate) fn wrong_method(method: &Method, path: &str, allow: &'static str) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            headers: vec![(header::ALLOW, HeaderValue::from_static(allow))],
            ..Self::invalid(
                format!("Invalid method for URL ({method} {path})"),
                None,
                None,
            )
        }
    }

    /// The API key never appears in the message, not even masked.
    pub(crate) fn unauthorized(key_sent: bool) -> Self {
        let message = if key_sent {
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
        } else {
            "You didn't provide an API key. You need to provide your API key in an Authorization header using \
             Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        };
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_api_key"),
            ..Self::invalid(message, None, None)
        }
    }

    /// The error a `status=CODE` directive asks for, shaped as OpenAI sends that status.
    pub(crate) fn simulated(status: u16, retry_after: Option<u64>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (kind, code, message) = match status.as_u16() {
            401 => (
                INVALID_REQUEST,
                Some("invalid_api_key"),
                "Incorrect API key provided (simulated).",
            ),
            403 => (
                INVALID_REQUEST,
                Some("permission_denied"),
                "You are not allowed to access this resource (simulated).",
            ),
            404 => (
                INVALID_REQUEST,
                Some("not_found"),
                "The requested resource was not found (simulated).",
            ),
            429 => (
                "rate_limit_error",
                Some("rate_limit_exceeded"),
                "Rate limit reached for requests (simulated). Please try again later.",
            ),
            503 => (
                "server_error",
                None,
                "The engine is currently overloaded, please try again later (simulated).",
            ),
            500..=599 => (
                "server_error",
                None,
                "The server had an error while processing your request (simulated).",
            ),
            _ => (
                INVALID_REQUEST,
                None,
                "The request was rejected (simulated).",
            ),
        };
        let headers = retry_after
            .map(|secs| (header::RETRY_AFTER, HeaderValue::from(secs)))
            .into_iter()
            .collect();
        Self {
            status,
            message: message.to_owned(),
            kind,
            param: None,
            code,
            headers,
            detail: None,
        }
    }

    /// The status the reply will carry in `style`.
    pub(crate) fn status(&self, style: ErrorStyle) -> StatusCode {
        match (style, &self.detail) {
            (ErrorStyle::Mistral, Some(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => self.status,
        }
    }

    pub(crate) fn respond(self, style: ErrorStyle) -> Response {
        let status = self.status(style);
        let body = match style {
            ErrorStyle::OpenAi => json!({
                "error": {
                    "message": self.message,
                    "type": self.kind,
                    "param": self.param,
                    "code": self.code,
                }
            }),
            ErrorStyle::Mistral => self.mistral_body(),
        };
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response
    }

    /// `{"object": "error", ...}`, with a one-item `detail` list for a schema violation.
    fn mistral_body(&self) -> Value {
        let Some(detail) = &self.detail else {
            return json!({
                "object": "error",
                "message": self.message,
                "type": self.kind,
                "param": null,
                "code": self.code,
            });
        };
        let loc = location(self.param.as_deref());
        let dotted: Vec<String> = loc
            .iter()
            .map(|part| match part {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        let mut item = json!({ "type": detail.kind, "loc": loc, "msg": detail.msg });
        if let Some(input) = &detail.input {
            item["input"] = input.clone();
        }
        json!({
            "object": "error",
            "message": format!("{}: {}", dotted.join("."), detail.msg),
            "detail": [item],
            "type": INVALID_REQUEST,
            "param": null,
            "code": null,
        })
    }
}

/// The bound a number crossed: `Min`/`Max` are inclusive, `Above` is exclusive.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bound {
    Min(f64),
    Max(f64),
    Above(f64),
}

impl Bound {
    fn value(self) -> f64 {
        match self {
            Self::Min(value) | Self::Max(value) | Self::Above(value) => value,
        }
    }

    /// The relation a value must have to the bound: as OpenAI writes it, as pydantic names
    /// its violation, and as pydantic words it.
    fn wording(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Min(_) => (">=", "greater_than_equal", "greater than or equal to"),
            Self::Max(_) => ("<=", "less_than_equal", "less than or equal to"),
            Self::Above(_) => (">", "greater_than", "greater than"),
        }
    }
}

/// pydantic's `loc` for a parameter path: `messages[0].content` becomes
/// `["body", "messages", 0, "content"]`.
fn location(param: Option<&str>) -> Vec<Value> {
    let mut loc = vec![Value::from("body")];
    for segment in param.into_iter().flat_map(|param| param.split('.')) {
        let mut pieces = segment.split('[');
        if let Some(name) = pieces.next().filter(|name| !name.is_empty()) {
            loc.push(Value::from(name));
        }
        for index in pieces {
            let index = index.trim_end_matches(']');
            loc.push(
                index
                    .parse::<u64>()
                    .map_or_else(|_| Value::from(index), Value::from),
            );
        }
    }
    loc
}

/// How OpenAI names a JSON value's type in error messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `'a', 'b', and 'c'`.
fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("'{item}'")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [first, second] => format!("{first} and {second}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

/// `'a', 'b' or 'c'`, as pydantic lists the values a literal allows.
fn alternatives(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("'{item}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_follow_pydantic() {
        assert_eq!(location(None), [json!("body")]);
        assert_eq!(
            location(Some("messages[0].content[12].type")),
            [
                json!("body"),
                json!("messages"),
                json!(0),
                json!("content"),
                json!(12),
                json!("type")
            ]
        );
    }

    #[test]
    fn lists_read_like_openai() {
        assert_eq!(quoted_list(&["a"]), "'a'");
        assert_eq!(quoted_list(&["a", "b"]), "'a' and 'b'");
        assert_eq!(quoted_list(&["a", "b", "c"]), "'a', 'b', and 'c'");
        assert_eq!(alternatives(&["a", "b", "c"]), "'a', 'b' or 'c'");
        assert_eq!(alternatives(&["a"]), "'a'");
    }
}
