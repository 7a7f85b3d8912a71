//! The port every provider adapter implements, and the errors adapters report.
//!
//! Adapters receive requests that are already validated and carry the provider's own model
//! name; they answer in OpenAI's shape. A streamed answer is a stream of chunks that are each
//! the JSON of one `chat.completion.chunk`, so the gateway can forward them byte for byte.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::error::{ApiError, ErrorKind};
use crate::wire::{ChatRequest, EmbeddingsRequest, EmbeddingsResponse, Usage};

/// The JSON of one `chat.completion.chunk`, without SSE framing.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, ProviderError>> + Send>>;

/// A non-streamed answer: the JSON of a `chat.completion` object, forwarded as it is, and the
/// usage read from it (if the provider reported any).
#[derive(Debug, Clone)]
pub struct ChatReply {
    pub body: Bytes,
    pub usage: Option<Usage>,
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name, as in `provider/model`.
    fn id(&self) -> &str;

    async fn chat(&self, request: ChatRequest) -> Result<ChatReply, ProviderError>;

    /// Resolves once the provider has accepted the call (its response headers arrived).
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChunkStream, ProviderError>;

    async fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The provider's rate limit (429).
    RateLimited,
    /// No answer in time.
    Timeout,
    /// The provider failed (5xx).
    ServerError,
    /// The provider is overloaded or temporarily unavailable (503, Anthropic's 529, Gemini's
    /// `UNAVAILABLE`, Bedrock's `ServiceUnavailableException`): another try or another
    /// provider may well succeed.
    Overloaded,
    /// The provider could not be reached.
    Connect,
    /// The gateway ran out of a resource of its own (open files, local ports, memory) before
    /// reaching the provider: no fault of the provider's, and another provider would meet the
    /// same limit.
    GatewayResources,
    /// The provider refused the gateway's own credentials (401/403).
    Authentication,
    /// The provider rejected the request as invalid (4xx): the client's to fix.
    InvalidRequest,
    /// The prompt does not fit the model's context window.
    ContextLength,
    /// The provider does not know the model (404).
    ModelNotFound,
    /// The request uses something this provider cannot do; caught before calling it.
    Unsupported,
    /// The provider answered something that is not its protocol.
    InvalidResponse,
    /// A stream broke off before it finished.
    StreamInterrupted,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    /// Safe to show the client: adapters never put credentials here.
    pub message: String,
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    pub param: Option<String>,
}

impl ProviderError {
    pub fn new(kind: ProviderErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            status: None,
            retry_after: None,
            param: None,
        }
    }

    pub fn unsupported(param: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(ProviderErrorKind::Unsupported, message);
        e.param = Some(param.to_owned());
        e
    }

    /// Whether trying again (or trying another provider) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ProviderErrorKind::RateLimited
                | ProviderErrorKind::Timeout
                | ProviderErrorKind::ServerError
                | ProviderErrorKind::Overloaded
                | ProviderErrorKind::Connect
                | ProviderErrorKind::StreamInterrupted
        )
    }

    /// What the client sees when this was the last attempt.
    pub fn to_api_error(&self, provider: &str) -> ApiError {
        let (kind, code, message) = match self.kind {
            ProviderErrorKind::RateLimited => (
                ErrorKind::RateLimited,
                "rate_limit_exceeded",
                format!(
                    "The provider `{provider}` is rate limiting requests: {}",
                    self.message
                ),
            ),
            ProviderErrorKind::Timeout => (
                ErrorKind::UpstreamTimeout,
                "upstream_timeout",
                format!("The provider `{provider}` did not answer in time."),
            ),
            ProviderErrorKind::ServerError => (
                ErrorKind::Upstream,
                "upstream_error",
                format!("The provider `{provider}` failed: {}", self.message),
            ),
            ProviderErrorKind::Overloaded => (
                ErrorKind::Unavailable,
                "upstream_overloaded",
                format!(
                    "The provider `{provider}` is overloaded; try again shortly: {}",
                    self.message
                ),
            ),
            ProviderErrorKind::Connect => (
                ErrorKind::Upstream,
                "upstream_unreachable",
                format!("The provider `{provider}` could not be reached."),
            ),
            ProviderErrorKind::GatewayResources => (
                ErrorKind::Unavailable,
                "gateway_overloaded",
                format!(
                    "The gateway has run out of {} and cannot reach the provider `{provider}` \
                     right now; try again shortly.",
                    self.message
                ),
            ),
            ProviderErrorKind::Authentication => (
                ErrorKind::Upstream,
                "upstream_authentication",
                format!(
                    "The provider `{provider}` rejected the gateway's credentials; check the \
                     gateway's API key for it."
                ),
            ),
            ProviderErrorKind::InvalidRequest => (
                ErrorKind::InvalidRequest,
                "invalid_request",
                format!(
                    "The provider `{provider}` rejected the request: {}",
                    self.message
                ),
            ),
            ProviderErrorKind::ContextLength => (
                ErrorKind::InvalidRequest,
                "context_length_exceeded",
                format!(
                    "The request does not fit the model's context window: {}",
                    self.message
                ),
            ),
            ProviderErrorKind::ModelNotFound => (
                ErrorKind::ModelNotFound,
                "model_not_found",
                format!(
                    "The provider `{provider}` does not serve this model: {}",
                    self.message
                ),
            ),
            ProviderErrorKind::Unsupported => (
                ErrorKind::InvalidRequest,
                "unsupported_parameter",
                self.message.clone(),
            ),
            ProviderErrorKind::InvalidResponse => (
                ErrorKind::Upstream,
                "invalid_upstream_response",
                format!(
                    "The provider `{provider}` answered something unexpected: {}",
                    self.message
                ),
            ),
            ProviderErrorKind::StreamInterrupted => (
                ErrorKind::Upstream,
                "stream_interrupted",
                format!("The stream from `{provider}` broke off: {}", self.message),
            ),
        };
        let mut error = ApiError::new(kind, message)
            .with_code(code)
            .with_retry_after(self.retry_after);
        error.param = self.param.clone();
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn upstream_failures_map_to_the_documented_statuses() {
        let cases = [
            (
                ProviderErrorKind::RateLimited,
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (ProviderErrorKind::ServerError, StatusCode::BAD_GATEWAY),
            (
                ProviderErrorKind::Overloaded,
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (ProviderErrorKind::Timeout, StatusCode::GATEWAY_TIMEOUT),
            (ProviderErrorKind::Authentication, StatusCode::BAD_GATEWAY),
            (ProviderErrorKind::InvalidRequest, StatusCode::BAD_REQUEST),
            (ProviderErrorKind::ModelNotFound, StatusCode::NOT_FOUND),
        ];
        for (kind, status) in cases {
            assert_eq!(
                ProviderError::new(kind, "x").to_api_error("p").status(),
                status
            );
        }
    }

    #[test]
    fn a_rate_limit_keeps_its_retry_after() {
        let mut e = ProviderError::new(ProviderErrorKind::RateLimited, "slow");
        e.retry_after = Some(Duration::from_secs(7));
        assert_eq!(e.to_api_error("p").retry_after_secs(), Some(7));
        assert!(e.is_retryable());
    }
}
