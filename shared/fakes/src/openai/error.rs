//! OpenAI's error replies: `{"error": {"message", "type", "param", "code"}}`, with the
//! messages and codes the real API uses for the same mistakes.

use axum::{
    Json,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::directives::DirectiveError;

const INVALID_REQUEST: &str = "invalid_request_error";

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    param: Option<String>,
    code: Option<&'static str>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
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
        }
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
    }

    pub(crate) fn unrecognized_argument(name: &str) -> Self {
        Self::invalid(
            format!("Unrecognized request argument supplied: {name}"),
            Some(name),
            None,
        )
    }

    pub(crate) fn unknown_parameter(param: &str) -> Self {
        Self::invalid(
            format!("Unknown parameter: '{param}'."),
            Some(param),
            Some("unknown_parameter"),
        )
    }

    pub(crate) fn missing(param: &str) -> Self {
        Self::invalid(
            format!("Missing required parameter: '{param}'."),
            Some(param),
            Some("missing_required_parameter"),
        )
    }

    pub(crate) fn invalid_type(param: &str, expected: &str, got: &Value) -> Self {
        Self::invalid(
            format!(
                "Invalid type for '{param}': expected {expected}, but got {} instead.",
                kind_of(got)
            ),
            Some(param),
            Some("invalid_type"),
        )
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
    }

    /// `kind` is "decimal" or "integer"; `above` tells which bound was crossed.
    pub(crate) fn out_of_range(
        param: &str,
        kind: &'static str,
        above: bool,
        bound: &str,
        got: &Value,
    ) -> Self {
        let (side, relation, code) = match (kind, above) {
            ("integer", true) => ("above maximum", "<=", "integer_above_max_value"),
            ("integer", false) => ("below minimum", ">=", "integer_below_min_value"),
            (_, true) => ("above maximum", "<=", "decimal_above_max_value"),
            (_, false) => ("below minimum", ">=", "decimal_below_min_value"),
        };
        Self::invalid(
            format!(
                "Invalid '{param}': {kind} {side} value. Expected a value {relation} {bound}, but got {got} instead."
            ),
            Some(param),
            Some(code),
        )
    }

    pub(crate) fn empty_array(param: &str) -> Self {
        Self::invalid(
            format!(
                "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead."
            ),
            Some(param),
            Some("empty_array"),
        )
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
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_like_openai() {
        assert_eq!(quoted_list(&["a"]), "'a'");
        assert_eq!(quoted_list(&["a", "b"]), "'a' and 'b'");
        assert_eq!(quoted_list(&["a", "b", "c"]), "'a', 'b', and 'c'");
    }
}
