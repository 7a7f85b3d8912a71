//! Reading a provider's error answer: status, `Retry-After`, and the message, with any credential
//! scrubbed before it can reach a client or a log.
//!
//! Every adapter classifies errors here, so a 429 or a context-length error means the same to
//! fallback whichever provider sent it; only reading the body differs between protocols.

use std::time::Duration;

use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use http::HeaderMap;
use serde_json::Value;

/// Longest provider message passed on; the rest is noise.
const MAX_MESSAGE_CHARS: usize = 500;

pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    header("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// An error answer in the OpenAI family of shapes.
pub(crate) fn from_status(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    secret: Option<&str>,
) -> ProviderError {
    let (message, code, param) = read_body(body);
    classify(
        status,
        Detail {
            message,
            code,
            param,
            retry_after,
        },
        secret,
    )
}

/// What an adapter read from an error answer, in whatever protocol it came.
#[derive(Debug, Default)]
pub(crate) struct Detail {
    pub message: String,
    /// The provider's own error code or type (`context_length_exceeded`, `overloaded_error`,
    /// `RESOURCE_EXHAUSTED`, …).
    pub code: Option<String>,
    pub param: Option<String>,
    pub retry_after: Option<Duration>,
}

/// The kind of failure a status means, with the message scrubbed and shortened.
pub(crate) fn classify(status: u16, detail: Detail, secret: Option<&str>) -> ProviderError {
    let message = redact(&truncate(detail.message), secret);
    let kind = match status {
        429 => ProviderErrorKind::RateLimited,
        401 | 403 => ProviderErrorKind::Authentication,
        404 => ProviderErrorKind::ModelNotFound,
        408 => ProviderErrorKind::Timeout,
        400 | 413 | 422 if is_context_length(&message, detail.code.as_deref()) => {
            ProviderErrorKind::ContextLength
        }
        400..=499 => ProviderErrorKind::InvalidRequest,
        // Anthropic's "overloaded"; adapters that can tell overload apart by the provider's own
        // error code (a 503 is not always one) set it themselves.
        529 => ProviderErrorKind::Overloaded,
        500..=599 => ProviderErrorKind::ServerError,
        _ => ProviderErrorKind::InvalidResponse,
    };
    let mut error = ProviderError::new(kind, message);
    error.status = Some(status);
    error.retry_after = detail.retry_after;
    error.param = detail.param;
    error
}

/// The ways providers say a prompt is longer than the model's context window.
pub(crate) fn is_context_length(message: &str, code: Option<&str>) -> bool {
    let lower = message.to_ascii_lowercase();
    code == Some("context_length_exceeded")
        || lower.contains("context length")
        || lower.contains("context_length")
        || lower.contains("maximum context")
        || lower.contains("context window")
        || lower.contains("prompt is too long")
        || lower.contains("exceed context limit")
        || lower.contains("too many tokens")
        || lower.contains("input token count")
        // Bedrock's ValidationException wording.
        || lower.contains("input is too long")
        || lower.contains("too many input tokens")
}

/// OpenAI's `{"error": {...}}`, Mistral's `{"message": ...}`, FastAPI's `{"detail": ...}`, or text.
fn read_body(body: &[u8]) -> (String, Option<String>, Option<String>) {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let inner = json.get("error").filter(|e| e.is_object()).unwrap_or(&json);
        let message = inner
            .get("message")
            .or_else(|| json.get("detail"))
            .or_else(|| json.get("error"))
            .map(text);
        if let Some(message) = message {
            let code = inner.get("code").filter(|c| !c.is_null()).map(text);
            let param = inner
                .get("param")
                .and_then(Value::as_str)
                .map(str::to_owned);
            return (message, code, param);
        }
    }
    let raw = String::from_utf8_lossy(body);
    let raw = raw.trim();
    if raw.is_empty() {
        ("no details given".to_owned(), None, None)
    } else {
        (raw.to_owned(), None, None)
    }
}

fn truncate(mut s: String) -> String {
    if let Some((idx, _)) = s.char_indices().nth(MAX_MESSAGE_CHARS) {
        s.truncate(idx);
        s.push('…');
    }
    s
}

/// Removes the gateway's key and anything shaped like a provider key (`sk-…`, `gsk_…`).
pub(crate) fn redact(message: &str, secret: Option<&str>) -> String {
    let mut out = match secret {
        Some(secret) if !secret.is_empty() => message.replace(secret, "[redacted]"),
        _ => message.to_owned(),
    };
    for prefix in ["sk-", "gsk_", "sk_"] {
        let mut searched = 0;
        while let Some(pos) = out[searched..].find(prefix).map(|p| p + searched) {
            let start = pos + prefix.len();
            let len = out[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*'))
                .unwrap_or(out.len() - start);
            if len >= 6 {
                out.replace_range(start..start + len, "[redacted]");
            }
            searched = start;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_openai_error_keeps_its_message_and_param() {
        let body = br#"{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}"#;
        let e = from_status(400, None, body, None);
        assert_eq!(e.kind, ProviderErrorKind::InvalidRequest);
        assert_eq!(e.message, "bad temperature");
        assert_eq!(e.param.as_deref(), Some("temperature"));
    }

    #[test]
    fn keys_never_survive_in_messages() {
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-proj-abc123***wxyz. You can find your API key at https://platform.openai.com.","code":"invalid_api_key"}}"#;
        let e = from_status(401, None, body, Some("sk-proj-abc123secretwxyz"));
        assert_eq!(e.kind, ProviderErrorKind::Authentication);
        assert!(!e.message.contains("abc123"), "{}", e.message);
        let e = from_status(
            500,
            None,
            b"upstream saw key my-own-secret",
            Some("my-own-secret"),
        );
        assert!(!e.message.contains("my-own-secret"));
    }

    #[test]
    fn context_length_errors_are_recognised() {
        let body = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#;
        assert_eq!(
            from_status(400, None, body, None).kind,
            ProviderErrorKind::ContextLength
        );
    }

    #[test]
    fn mistral_and_fastapi_bodies_are_read() {
        assert_eq!(
            from_status(422, None, br#"{"object":"error","message":"nope"}"#, None).message,
            "nope"
        );
        assert_eq!(
            from_status(400, None, br#"{"detail":"bad"}"#, None).message,
            "bad"
        );
        assert_eq!(
            from_status(503, None, b"", None).kind,
            ProviderErrorKind::ServerError
        );
        assert_eq!(
            from_status(529, None, b"", None).kind,
            ProviderErrorKind::Overloaded
        );
        assert_eq!(
            from_status(500, None, b"", None).kind,
            ProviderErrorKind::ServerError
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
    }
}
