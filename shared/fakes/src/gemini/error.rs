//! Google's error replies: `{"error": {"code", "message", "status", "details"}}`, with the
//! status names and wording of `generativelanguage.googleapis.com`.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::directives::DirectiveError;

/// One error reply.
#[derive(Debug)]
pub(super) struct GoogleError {
    code: StatusCode,
    status: &'static str,
    message: String,
    details: Vec<Value>,
}

impl GoogleError {
    fn new(code: StatusCode, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A request the API refuses as malformed (400 `INVALID_ARGUMENT`); `field` is the
    /// snake_case path Google reports, e.g. `contents[0].parts[1]`.
    pub(super) fn invalid(field: &str, description: impl Into<String>) -> Self {
        let description = description.into();
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            description.clone(),
        );
        if !field.is_empty() {
            error.details.push(json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{ "field": field, "description": description }],
            }));
        }
        error
    }

    /// Google's wording for a JSON field its schema does not have.
    pub(super) fn unknown_field(at: &str, name: &str) -> Self {
        let place = if at.is_empty() {
            String::new()
        } else {
            format!(" at '{at}'")
        };
        Self::invalid(
            at,
            format!(
                "Invalid JSON payload received. Unknown name \"{name}\"{place}: Cannot find field."
            ),
        )
    }

    /// A JSON value of the wrong type.
    pub(super) fn wrong_type(at: &str, expected: &str, got: &Value) -> Self {
        Self::invalid(at, format!("Invalid value at '{at}' ({expected}), {got}"))
    }

    /// Something this fake does not simulate, refused loudly rather than half-served.
    pub(super) fn not_simulated(at: &str, what: &str) -> Self {
        Self::invalid(
            at,
            format!("{what} is not implemented by the fake Gemini provider."),
        )
    }

    pub(super) fn directive(error: &DirectiveError) -> Self {
        Self::invalid("contents", error.to_string())
    }

    pub(super) fn model_not_found(model: &str, method: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "models/{model} is not found for API version v1beta, or is not supported for \
                 {method}. Call ListModels to see the list of available models and their \
                 supported methods."
            ),
        )
    }

    pub(super) fn unknown_path(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{method} {path} is not a method the fake Gemini provider implements."),
        )
    }

    /// No key at all.
    pub(super) fn unregistered_caller() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
        )
    }

    /// A wrong key: Google answers 400, with the reason in the details.
    pub(super) fn invalid_key() -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        );
        error.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": { "service": "generativelanguage.googleapis.com" },
        }));
        error
    }

    /// The error a `status=CODE` directive asks for, as Google sends that status; a
    /// `retry_after` becomes a `RetryInfo` detail (Google sends no `Retry-After` header).
    pub(super) fn simulated(code: u16, retry_after: Option<u64>) -> Self {
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (status, message) = match code.as_u16() {
            400 => (
                "INVALID_ARGUMENT",
                "Request contains an invalid argument (simulated).",
            ),
            401 => (
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials (simulated).",
            ),
            403 => (
                "PERMISSION_DENIED",
                "The caller does not have permission (simulated).",
            ),
            404 => ("NOT_FOUND", "Requested entity was not found (simulated)."),
            409 => ("ABORTED", "The operation was aborted (simulated)."),
            429 => (
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details (simulated).",
            ),
            499 => ("CANCELLED", "The operation was cancelled (simulated)."),
            500 => ("INTERNAL", "An internal error has occurred (simulated)."),
            501 => ("UNIMPLEMENTED", "Method not implemented (simulated)."),
            503 => (
                "UNAVAILABLE",
                "The model is overloaded. Please try again later (simulated).",
            ),
            504 => ("DEADLINE_EXCEEDED", "The request timed out (simulated)."),
            402 | 405..=408 | 410..=428 | 430..=498 => (
                "FAILED_PRECONDITION",
                "Precondition check failed (simulated).",
            ),
            _ => ("INTERNAL", "An internal error has occurred (simulated)."),
        };
        let mut error = Self::new(code, status, message);
        if let Some(secs) = retry_after {
            error.details.push(json!({
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": format!("{secs}s"),
            }));
        }
        error
    }

    pub(super) fn code(&self) -> StatusCode {
        self.code
    }

    pub(super) fn body(&self) -> Value {
        let mut error = json!({
            "code": self.code.as_u16(),
            "message": self.message,
            "status": self.status,
        });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }

    pub(super) fn respond(self) -> Response {
        (self.code, Json(self.body())).into_response()
    }
}
