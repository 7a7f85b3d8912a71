//! Rendering [`ApiError`] as an HTTP response, and turning the bare 404/405/413 answers that the
//! framework produces on its own into the same OpenAI shape.

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use gateway_core::{ApiError, ErrorKind};

/// An [`ApiError`] on its way out, with the receipt header of a request that was routed.
#[derive(Debug)]
pub struct ErrorResponse {
    pub error: ApiError,
    pub receipt_header: Option<String>,
}

impl From<ApiError> for ErrorResponse {
    fn from(error: ApiError) -> Self {
        ErrorResponse {
            error,
            receipt_header: None,
        }
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> axum::response::Response {
        let mut response = error_response(&self.error);
        if let Some(header) = &self.receipt_header {
            crate::receipts::insert_header(response.headers_mut(), header);
        }
        response
    }
}

pub fn error_response(error: &ApiError) -> axum::response::Response {
    let mut response = Response::new(Body::from(error.to_json()));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(secs) = error.retry_after_secs() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A body that could not be read: too large (413) or cut off.
pub fn body_rejection(rejection: BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        payload_too_large(limit)
    } else {
        ApiError::invalid_request(format!("The request body could not be read: {rejection}."))
    }
}

pub fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        format!("The request body is larger than this gateway accepts ({limit} bytes)."),
    )
    .with_code("request_too_large")
}

/// Rewrites framework-made error responses (no body, or plain text) into the OpenAI shape,
/// keeping their headers (`Allow` on a 405).
pub fn openai_shaped(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            ErrorKind::MethodNotAllowed,
            "This method is not allowed on this path.",
        )
        .with_code("method_not_allowed"),
        StatusCode::NOT_FOUND => {
            ApiError::new(ErrorKind::NotFound, "Unknown path.").with_code("unknown_url")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorKind::PayloadTooLarge,
            "The request body is larger than this gateway accepts.",
        )
        .with_code("request_too_large"),
        _ if status.is_client_error() => ApiError::invalid_request(
            status
                .canonical_reason()
                .unwrap_or("Bad request")
                .to_owned()
                + ".",
        ),
        _ => ApiError::internal(),
    };
    let (mut parts, _) = response.into_parts();
    parts.status = status;
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(error.to_json()))
}

/// A provider that did not answer within the gateway's limit.
pub fn upstream_timeout(provider: &str) -> ApiError {
    gateway_core::upstream::ProviderError::new(
        gateway_core::upstream::ProviderErrorKind::Timeout,
        "timed out",
    )
    .to_api_error(provider)
}
