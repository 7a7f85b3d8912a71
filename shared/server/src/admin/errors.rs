//! Admin API errors in the OpenAI shape: store outcomes mapped to statuses (404, 409, 400),
//! and request bodies and query strings whose rejections name the offending field.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use gateway_core::{ApiError, ErrorKind};
use gateway_store::StoreError;
use serde::de::DeserializeOwned;

use crate::errors::ErrorResponse;

/// A store outcome as the client sees it. `NotFound` and `Conflict` name only what the caller
/// asked for; anything else is logged in full and answered opaquely.
pub fn from_store(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound(what) => {
            ApiError::new(ErrorKind::NotFound, format!("Not found: {what}.")).with_code("not_found")
        }
        StoreError::Conflict(what) => {
            ApiError::new(ErrorKind::Conflict, format!("Conflict: {what}.")).with_code("conflict")
        }
        StoreError::Invalid(message) => ApiError::invalid_request(message),
        other => {
            tracing::error!(error = %other, "the store failed an admin request");
            ApiError::new(
                ErrorKind::Unavailable,
                "The store is unavailable; try again shortly.",
            )
            .with_code("store_unavailable")
        }
    }
}

/// A 404 naming a kind of resource and the id asked for.
pub fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, format!("No {what} `{id}`.")).with_code("not_found")
}

/// A JSON request body. A body that does not parse is a 400 whose `param` names the field
/// (`ip_allowlist[1]`, `role`), so a client can point at what to fix.
#[derive(Debug, Clone)]
pub struct AdminJson<T>(pub T);

impl<T, S> FromRequest<S> for AdminJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ErrorResponse;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(AdminJson).map_err(Into::into)
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            "The request body is larger than this gateway accepts.",
        )
        .with_code("request_too_large")
    } else {
        ApiError::invalid_request(format!("The request body could not be read: {rejection}."))
    }
}

/// Parses `bytes` as `T`, naming the failing field on error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request(
            "A JSON body is required.".to_owned(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = format!("Invalid JSON body: {inner}.");
        if path == "." || path.is_empty() {
            let mut api = ApiError::invalid_request(message).with_code("invalid_json");
            if let Some(field) = missing_field(&inner.to_string()) {
                api = api.with_param(field);
            }
            api
        } else {
            ApiError::invalid_param(path, message)
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::invalid_request(format!("Invalid JSON body: {e}.")))?;
    Ok(value)
}

/// serde reports a missing field at the enclosing object; the field is in the message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// A query string. A parameter that does not parse is a 400 naming it.
#[derive(Debug, Clone)]
pub struct AdminQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AdminQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(AdminQuery(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let mut error =
                    ApiError::invalid_request(format!("Invalid query string: {detail}."))
                        .with_code("invalid_query");
                if let Some(field) = detail
                    .split(['`', ':'])
                    .find(|part| !part.trim().is_empty() && !part.contains(' '))
                {
                    error = error.with_param(field.trim());
                }
                Err(error.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only parsed")]
    struct Body {
        name: String,
        limits: Vec<u32>,
    }

    #[test]
    fn a_bad_body_names_the_field() {
        let error = parse_json::<Body>(br#"{"name": "a", "limits": [1, "x"]}"#).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("limits[1]"));
        let error = parse_json::<Body>(br#"{"limits": []}"#).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("name"));
        let error = parse_json::<Body>(br#"{"name": "a", "limits": [], "x": 1}"#).unwrap_err();
        assert!(error.message.contains("unknown field `x`"), "{error}");
        assert!(parse_json::<Body>(b"").is_err());
        assert!(parse_json::<Body>(br#"{"name": "a", "limits": []} trailing"#).is_err());
    }
}
