//! Anthropic's error answers: `{"type": "error", "error": {"type", "message"}, "request_id"}`,
//! with the status each error type comes with (529 for `overloaded_error`).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::directives::DirectiveError;

#[derive(Debug)]
pub(super) struct ApiError {
    status: u16,
    kind: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A request that breaks the API's rules, in Anthropic's `path: problem` style.
    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }

    pub(super) fn at(path: &str, problem: &str) -> Self {
        Self::invalid(format!("{path}: {problem}"))
    }

    pub(super) fn missing(path: &str) -> Self {
        Self::at(path, "Field required")
    }

    pub(super) fn extra(path: &str) -> Self {
        Self::at(path, "Extra inputs are not permitted")
    }

    pub(super) fn directive(error: &DirectiveError) -> Self {
        Self::invalid(error.to_string())
    }

    pub(super) fn unauthorized(message: &str) -> Self {
        Self::new(401, "authentication_error", message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found_error", message)
    }

    pub(super) fn model_not_found(model: &str) -> Self {
        Self::not_found(format!("model: {model}"))
    }

    pub(super) fn wrong_method(method: &str, path: &str) -> Self {
        Self::new(
            405,
            "invalid_request_error",
            format!("Method {method} is not allowed for {path}"),
        )
    }

    /// What a `[[fake status=CODE]]` directive answers: the error type Anthropic sends with
    /// that status.
    pub(super) fn simulated(status: u16, retry_after: Option<u64>) -> Self {
        let (kind, message) = match status {
            401 => ("authentication_error", "invalid x-api-key"),
            402 => ("billing_error", "Simulated billing error."),
            403 => ("permission_error", "Simulated permission error."),
            404 => ("not_found_error", "Simulated not found."),
            413 => (
                "request_too_large",
                "Request exceeds the maximum allowed size.",
            ),
            429 => ("rate_limit_error", "Simulated rate limit: slow down."),
            504 => ("timeout_error", "Simulated timeout."),
            529 => ("overloaded_error", "Overloaded"),
            400..=499 => ("invalid_request_error", "Simulated invalid request."),
            _ => ("api_error", "Simulated internal server error."),
        };
        Self {
            retry_after,
            ..Self::new(status, kind, message)
        }
    }

    pub(super) fn status(&self) -> u16 {
        self.status
    }

    pub(super) fn respond(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({
            "type": "error",
            "error": {"type": self.kind, "message": self.message},
            "request_id": "req_fake",
        });
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
