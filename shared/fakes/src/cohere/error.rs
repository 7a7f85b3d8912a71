//! Cohere's error answers: a status and `{"id": ..., "message": ...}`.
//!
//! Cohere words its validation errors as `invalid request: ...`; the fake does the same, naming
//! the offending field so a test failure says what the gateway sent wrong.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::content::fingerprint;
use crate::directives::DirectiveError;

#[derive(Debug)]
pub(super) struct CohereError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl CohereError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A request Cohere would refuse, naming the field.
    pub(super) fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("invalid request: {field}: {reason}"),
        )
    }

    pub(super) fn directive(error: &DirectiveError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, format!("invalid request: {error}"))
    }

    pub(super) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid api token")
    }

    pub(super) fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!(
                "model '{model}' not found, make sure the correct model ID was used and that you have access to the model."
            ),
        )
    }

    pub(super) fn unknown_path(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("the fake Cohere API does not implement {method} {path}"),
        )
    }

    pub(super) fn wrong_method(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {path}; use POST"),
        )
    }

    /// The error a `status=` directive asks for, in the words Cohere uses for it.
    pub(super) fn simulated(status: u16, retry_after: Option<u64>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match status.as_u16() {
            400 => "invalid request: simulated by a fake directive",
            401 => "invalid api token",
            404 => "model not found (simulated)",
            429 => "You are past the rate limit for this API key (simulated).",
            503 => "service unavailable (simulated)",
            _ => "simulated failure",
        };
        Self {
            status,
            message: message.to_owned(),
            retry_after,
        }
    }

    pub(super) fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for CohereError {
    fn into_response(self) -> Response {
        let id = super::uuid(fingerprint(&[self.message.as_bytes()]));
        let mut response = (
            self.status,
            Json(json!({ "id": id, "message": self.message })),
        )
            .into_response();
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
