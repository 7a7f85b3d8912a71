//! Google's error answer, `{"error": {"code", "message", "status", "details"}}`, read into the
//! gateway's error kinds.
//!
//! The HTTP status decides first (as for every provider); Google's `status` then refines it:
//! `RESOURCE_EXHAUSTED` is a rate limit, `UNAVAILABLE` an overload (retryable 503),
//! `DEADLINE_EXCEEDED` a time-out, and an `API_KEY_INVALID` reason (sent with a 400) a
//! credentials problem. Google says when to retry in a `RetryInfo` detail, not a header.

use std::time::Duration;

use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use serde::Deserialize;
use serde_json::Value;

use crate::errors::{Detail, classify};

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default)]
    error: Option<GoogleStatus>,
}

#[derive(Debug, Default, Deserialize)]
struct GoogleStatus {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<Value>,
}

/// An error answer with HTTP `status` (or, inside a stream, no HTTP status: then the
/// body's `code` is used).
pub fn error_from_google(
    status: Option<u16>,
    header_retry_after: Option<Duration>,
    body: &[u8],
    secret: Option<&str>,
) -> ProviderError {
    let parsed = parse(body);
    let google = parsed.as_ref().and_then(|e| e.status.clone());
    let status = status
        .or_else(|| parsed.as_ref().and_then(|e| e.code))
        .unwrap_or(500);
    let message = parsed
        .as_ref()
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(body).trim().to_owned();
            if raw.is_empty() {
                "no details given".to_owned()
            } else {
                raw
            }
        });
    let details = parsed.map(|e| e.details).unwrap_or_default();
    let retry_after = header_retry_after.or_else(|| retry_delay(&details));
    let mut error = classify(
        status,
        Detail {
            message,
            code: google.clone(),
            param: None,
            retry_after,
        },
        secret,
    );
    let refined = match google.as_deref() {
        Some("RESOURCE_EXHAUSTED") => Some(ProviderErrorKind::RateLimited),
        Some("UNAVAILABLE") => Some(ProviderErrorKind::Overloaded),
        Some("DEADLINE_EXCEEDED") => Some(ProviderErrorKind::Timeout),
        _ if has_reason(&details, "API_KEY_INVALID") => Some(ProviderErrorKind::Authentication),
        _ => None,
    };
    if let Some(kind) = refined {
        error.kind = kind;
    }
    error
}

/// Google's error object, also when it comes as the only item of a JSON array (as
/// `streamGenerateContent` without SSE sends it).
fn parse(body: &[u8]) -> Option<GoogleStatus> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let value = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    serde_json::from_value::<Envelope>(value).ok()?.error
}

fn has_reason(details: &[Value], reason: &str) -> bool {
    details
        .iter()
        .any(|d| d.get("reason").and_then(Value::as_str) == Some(reason))
}

/// `RetryInfo.retryDelay`, a protobuf duration such as `"37s"` or `"1.5s"`.
fn retry_delay(details: &[Value]) -> Option<Duration> {
    details
        .iter()
        .filter(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .filter_map(|d| d.get("retryDelay").and_then(Value::as_str))
        .filter_map(|s| s.strip_suffix('s')?.parse::<f64>().ok())
        .find(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(status: u16, body: &str) -> ProviderErrorKind {
        error_from_google(Some(status), None, body.as_bytes(), None).kind
    }

    #[test]
    fn google_statuses_refine_the_http_status() {
        assert_eq!(
            kind_of(
                429,
                r#"{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}"#
            ),
            ProviderErrorKind::RateLimited
        );
        assert_eq!(
            kind_of(
                503,
                r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#
            ),
            ProviderErrorKind::Overloaded
        );
        assert_eq!(
            kind_of(
                400,
                r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#
            ),
            ProviderErrorKind::Authentication
        );
        assert_eq!(
            kind_of(
                400,
                r#"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#
            ),
            ProviderErrorKind::ContextLength
        );
        assert_eq!(
            kind_of(
                400,
                r#"[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#
            ),
            ProviderErrorKind::InvalidRequest
        );
        assert_eq!(kind_of(500, "oops"), ProviderErrorKind::ServerError);
    }

    #[test]
    fn retry_info_gives_the_delay() {
        let body = r#"{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#;
        let e = error_from_google(Some(429), None, body.as_bytes(), None);
        assert_eq!(e.retry_after, Some(Duration::from_secs(37)));
    }

    #[test]
    fn the_key_never_survives() {
        let body = r#"{"error":{"code":400,"message":"key AIzaSECRET123 is bad","status":"INVALID_ARGUMENT"}}"#;
        let e = error_from_google(Some(400), None, body.as_bytes(), Some("AIzaSECRET123"));
        assert!(!e.message.contains("AIzaSECRET123"));
    }
}
