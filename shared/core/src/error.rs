//! The one error shape a client ever sees: OpenAI's `{"error": {message, type, param, code}}`.
//!
//! Every failure in the gateway ends up as an [`ApiError`]; the HTTP layer renders it. The status
//! and the OpenAI `type` are chosen together by [`ErrorKind`], so the two can never disagree.

use std::borrow::Cow;
use std::time::Duration;

use http::StatusCode;
use serde::Serialize;

/// What went wrong, from the client's point of view. Picks the status and the OpenAI `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is wrong (400).
    InvalidRequest,
    /// No key, or a key the gateway does not know (401).
    Authentication,
    /// The key is known but may not do this (403).
    Permission,
    /// The model is not routable (404, code `model_not_found`).
    ModelNotFound,
    /// The path does not exist (404).
    NotFound,
    /// The path exists, the method does not (405, with `Allow`).
    MethodNotAllowed,
    /// The body is larger than `server.max_body_bytes` (413).
    PayloadTooLarge,
    /// The request clashes with what exists: a taken name, a member already added (409).
    Conflict,
    /// Too many requests, here or upstream (429, with `Retry-After` when known).
    RateLimited,
    /// The provider failed or answered something unusable (502).
    Upstream,
    /// No provider can take the request right now (503).
    Unavailable,
    /// The provider did not answer in time (504).
    UpstreamTimeout,
    /// A bug or an unexpected I/O failure inside the gateway (500); details go to the log only.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::Permission => StatusCode::FORBIDDEN,
            ErrorKind::ModelNotFound | ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The OpenAI `error.type` string.
    pub fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::ModelNotFound
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::PayloadTooLarge
            | ErrorKind::Conflict => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Upstream | ErrorKind::Unavailable | ErrorKind::UpstreamTimeout => {
                "api_error"
            }
            ErrorKind::Internal => "server_error",
        }
    }

    /// A payload-free label, safe for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Permission => "permission",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error on its way to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<Cow<'static, str>>,
    /// Sent as `Retry-After` (whole seconds, rounded up).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// A 400 naming the offending parameter, as OpenAI does.
    pub fn invalid_param(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_request(message)
            .with_param(param)
            .with_code("invalid_value")
    }

    pub fn model_not_found(model: &str, hint: &str) -> Self {
        Self::new(
            ErrorKind::ModelNotFound,
            format!(
                "The model `{model}` does not exist or is not routable on this gateway. {hint}"
            ),
        )
        .with_param("model")
        .with_code("model_not_found")
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "The gateway hit an internal error; it has been logged with this request's id.",
        )
        .with_code("internal_error")
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// `Retry-After` in whole seconds, never 0 (a 0 invites an instant retry storm).
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
            .map(|s| s.max(1))
    }

    /// The OpenAI-shaped body.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorObject {
                message: &self.message,
                r#type: self.kind.openai_type(),
                param: self.param.as_deref(),
                code: self.code.as_deref(),
            },
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising borrowed strings into a String cannot fail.
        serde_json::to_string(&self.body()).unwrap_or_else(|_| String::from("{}"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status(),
            self.kind.label(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorObject<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorObject<'a> {
    pub message: &'a str,
    pub r#type: &'static str,
    pub param: Option<&'a str>,
    pub code: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_openai_shape_with_null_param_and_code() {
        let json = ApiError::invalid_request("bad").to_json();
        assert_eq!(
            json,
            r#"{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}"#
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        let e = ApiError::new(ErrorKind::RateLimited, "slow down");
        assert_eq!(
            e.clone()
                .with_retry_after(Some(Duration::from_millis(1500)))
                .retry_after_secs(),
            Some(2)
        );
        assert_eq!(
            e.with_retry_after(Some(Duration::ZERO)).retry_after_secs(),
            Some(1)
        );
    }

    #[test]
    fn model_not_found_is_a_404_with_its_code() {
        let e = ApiError::model_not_found("x/y", "");
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
    }
}
