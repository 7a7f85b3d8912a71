//! Anthropic's error answers, `{"type": "error", "error": {"type", "message"}}`, as an HTTP
//! error or as a stream's `error` event.
//!
//! The status decides the kind through the shared classification, except that
//! `overloaded_error` is always an overload (Anthropic sends it as 529, and mid-stream with no
//! status at all), so fallback treats it as worth retrying elsewhere.

use std::time::Duration;

use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use serde::Deserialize;

use crate::errors::{Detail, classify};

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

/// An HTTP error answer.
pub(super) fn from_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    secret: Option<&str>,
) -> ProviderError {
    let (message, code) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => (body.error.message, Some(body.error.kind)),
        Err(_) => {
            let raw = String::from_utf8_lossy(body).trim().to_owned();
            let raw = if raw.is_empty() {
                "no details given".to_owned()
            } else {
                raw
            };
            (raw, None)
        }
    };
    read(status, message, code, retry_after, secret)
}

/// An `error` event inside a stream that had already started.
pub(super) fn error_event(provider: &str, data: &str) -> ProviderError {
    match serde_json::from_str::<ErrorBody>(data) {
        Ok(body) => read(
            status_of(&body.error.kind),
            body.error.message,
            Some(body.error.kind),
            None,
            None,
        ),
        Err(_) => ProviderError::new(
            ProviderErrorKind::InvalidResponse,
            format!("{provider} sent a malformed `error` event"),
        ),
    }
}

fn read(
    status: u16,
    message: String,
    code: Option<String>,
    retry_after: Option<Duration>,
    secret: Option<&str>,
) -> ProviderError {
    let overloaded = code.as_deref() == Some("overloaded_error");
    let mut error = classify(
        status,
        Detail {
            message,
            code,
            param: None,
            retry_after,
        },
        secret,
    );
    if overloaded {
        error.kind = ProviderErrorKind::Overloaded;
    }
    error
}

/// The status Anthropic sends each error type with (its errors documentation).
fn status_of(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overloaded_is_retryable_whatever_the_status() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        for status in [529, 503, 500] {
            let e = from_response(status, None, body, None);
            assert_eq!(e.kind, ProviderErrorKind::Overloaded);
            assert!(e.is_retryable());
        }
        let e = error_event(
            "anthropic",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(e.kind, ProviderErrorKind::Overloaded);
    }

    #[test]
    fn prompt_too_long_is_a_context_length_error() {
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#;
        assert_eq!(
            from_response(400, None, body, None).kind,
            ProviderErrorKind::ContextLength
        );
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"input length and `max_tokens` exceed context limit: 197824 + 8192 > 200000, decrease input length or `max_tokens` and try again"}}"#;
        assert_eq!(
            from_response(400, None, body, None).kind,
            ProviderErrorKind::ContextLength
        );
    }

    #[test]
    fn rate_limits_keep_retry_after_and_keys_are_redacted() {
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
        let e = from_response(429, Some(Duration::from_secs(3)), body, None);
        assert_eq!(e.kind, ProviderErrorKind::RateLimited);
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        let body = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-api03-secretvalue"}}"#;
        let e = from_response(401, None, body, Some("sk-ant-api03-secretvalue"));
        assert_eq!(e.kind, ProviderErrorKind::Authentication);
        assert!(!e.message.contains("secretvalue"), "{}", e.message);
    }
}
