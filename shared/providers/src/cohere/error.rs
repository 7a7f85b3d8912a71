//! Cohere's error answers: `{"message": ...}` (sometimes with an `id`), read through the shared
//! classification so a 429 or a context-length error means the same whichever provider sent it.
//!
//! Cohere-specific: 503 means Cohere is unavailable or overloaded (retryable, 503 to the
//! client); 498 (a deny-listed token) and 499 (request cancelled) are refusals of the request.

use std::time::Duration;

use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use serde_json::Value;

use crate::errors::{Detail, classify};

pub(crate) fn from_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    secret: Option<&str>,
) -> ProviderError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(body).trim().to_owned();
            if raw.is_empty() {
                "no details given".to_owned()
            } else {
                raw
            }
        });
    let mut error = classify(
        status,
        Detail {
            message,
            retry_after,
            ..Detail::default()
        },
        secret,
    );
    if status == 503 {
        error.kind = ProviderErrorKind::Overloaded;
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohere_error_bodies_are_classified() {
        let e = from_response(429, Some(Duration::from_secs(3)), br#"{"id":"a1","message":"You are using a Trial key, which is limited to 10 API calls / minute."}"#, None);
        assert_eq!(e.kind, ProviderErrorKind::RateLimited);
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        assert!(e.message.contains("Trial key"));
        let e = from_response(400, None, br#"{"message":"too many tokens: size limit exceeded by 1045 tokens. Try using shorter or fewer inputs."}"#, None);
        assert_eq!(e.kind, ProviderErrorKind::ContextLength);
        assert_eq!(
            from_response(503, None, b"", None).kind,
            ProviderErrorKind::Overloaded
        );
        assert!(from_response(500, None, br#"{"message":"internal"}"#, None).is_retryable());
        assert_eq!(
            from_response(401, None, br#"{"message":"invalid api token"}"#, None).kind,
            ProviderErrorKind::Authentication
        );
        assert_eq!(
            from_response(404, None, br#"{"message":"model 'x' not found"}"#, None).kind,
            ProviderErrorKind::ModelNotFound
        );
    }
}
