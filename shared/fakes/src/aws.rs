//! What the AWS dialects (Bedrock, SageMaker) share: the SigV4 header check, AWS JSON
//! errors, event-stream framing, and URL path segments.
//!
//! The signature itself is not verified (the fake has no secret key to verify it with):
//! the header must have SigV4's shape, name the expected access key id and the right
//! service, and come with `X-Amz-Date`. What that cannot prove is that the gateway signs
//! correctly; the AWS SDK's signer does that.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue as FrameValue, Message};
use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::calls::{CallGuard, CallOutcome};

/// An AWS error answer: status, the error code AWS puts in `x-amzn-errortype`, a message.
#[derive(Debug)]
pub(crate) struct AwsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl AwsError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub(crate) fn respond(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "message": self.message }).to_string(),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        headers.insert(
            "x-amzn-requestid",
            HeaderValue::from_static("00000000-0000-4000-8000-000000000000"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Settles the call as rejected and answers with the error.
pub(crate) fn reject(call: CallGuard, error: AwsError) -> Response {
    tracing::debug!(
        status = error.status,
        code = error.code,
        "fake AWS service rejected a request"
    );
    call.settle(CallOutcome::Rejected);
    error.respond()
}

/// Checks `Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, SignedHeaders=..., Signature=...`.
pub(crate) fn check_sigv4(
    headers: &HeaderMap,
    expected_key_id: Option<&str>,
    service: &str,
) -> Result<(), AwsError> {
    let missing = || {
        AwsError::new(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        AwsError::new(
            403,
            "IncompleteSignatureException",
            "Authorization header requires AWS4-HMAC-SHA256 signature",
        )
    })?;
    let field = |name: &str| {
        rest.split(',')
            .map(str::trim)
            .find_map(|part| part.strip_prefix(name))
            .filter(|v| !v.is_empty())
    };
    let (Some(credential), Some(_), Some(signature)) = (
        field("Credential="),
        field("SignedHeaders="),
        field("Signature="),
    ) else {
        return Err(AwsError::new(
            403,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
        ));
    };
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AwsError::new(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, _date, _region, scope_service, "aws4_request"] = scope.as_slice() else {
        return Err(AwsError::new(
            403,
            "IncompleteSignatureException",
            format!("Credential should be scoped to a valid region and service: {credential}"),
        ));
    };
    if *scope_service != service {
        return Err(AwsError::new(
            403,
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    if headers.get("x-amz-date").is_none() {
        return Err(AwsError::new(
            403,
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    }
    match expected_key_id {
        Some(expected) if expected != *key_id => Err(AwsError::new(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )),
        _ => Ok(()),
    }
}

/// One event-stream message: an event of `event_type` with `payload`.
pub(crate) fn event_frame(
    event_type: &str,
    content_type: &str,
    payload: impl Into<Bytes>,
) -> Bytes {
    frame(
        vec![
            Header::new(
                ":event-type",
                FrameValue::String(event_type.to_owned().into()),
            ),
            Header::new(
                ":content-type",
                FrameValue::String(content_type.to_owned().into()),
            ),
            Header::new(":message-type", FrameValue::String("event".into())),
        ],
        payload.into(),
    )
}

fn frame(headers: Vec<Header>, payload: Bytes) -> Bytes {
    let mut out = Vec::new();
    // Writing only fails for headers or payloads over the format's size limits, which
    // these small generated events never reach; an empty frame would then fail loudly in
    // the client's decoder.
    if let Err(error) = write_message_to(&Message::new_from_parts(headers, payload), &mut out) {
        tracing::warn!(%error, "fake AWS service could not frame an event");
    }
    Bytes::from(out)
}

/// A streamed answer in AWS event-stream framing.
pub(crate) fn event_stream_response(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    response
}

/// `/model/{id}/converse` -> (`id` percent-decoded, `converse`).
pub(crate) fn split_path<'a>(path: &'a str, prefix: &str) -> Option<(String, &'a str)> {
    let rest = path.strip_prefix(prefix)?;
    let (name, operation) = rest.rsplit_once('/')?;
    Some((percent_decode(name)?, operation))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The JSON type name of `value`, for validation messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "structure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_decoded_from_the_path() {
        assert_eq!(
            split_path(
                "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                "/model/"
            ),
            Some((
                "anthropic.claude-3-haiku-20240307-v1:0".to_owned(),
                "converse"
            ))
        );
        assert_eq!(split_path("/other", "/model/"), None);
    }

    #[test]
    fn sigv4_headers_are_checked() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            check_sigv4(&headers, Some("AKID"), "bedrock")
                .unwrap_err()
                .code,
            "MissingAuthenticationTokenException"
        );
        let sig = "0".repeat(64);
        headers.insert(
            header::AUTHORIZATION,
            format!("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}")
                .parse()
                .unwrap(),
        );
        headers.insert("x-amz-date", "20240101T000000Z".parse().unwrap());
        assert!(check_sigv4(&headers, Some("AKID"), "bedrock").is_ok());
        assert_eq!(
            check_sigv4(&headers, Some("OTHER"), "bedrock")
                .unwrap_err()
                .code,
            "UnrecognizedClientException"
        );
        assert_eq!(
            check_sigv4(&headers, Some("AKID"), "sagemaker")
                .unwrap_err()
                .code,
            "InvalidSignatureException"
        );
    }
}
