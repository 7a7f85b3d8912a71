//! What the Bedrock and SageMaker adapters share: the AWS SDK configuration built from a
//! provider's settings, and AWS errors read into the gateway's error kinds.
//!
//! The SDK's own retries are off: a throttled or failing call is reported at once, so the
//! gateway's fallback decides what happens next instead of the SDK retrying behind its back.
//! Its stalled-stream protection is off too: the gateway's idle timeout already watches
//! streams, with the limit the operator configured.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_bedrockruntime::config::Credentials;
use aws_sdk_bedrockruntime::config::http::HttpResponse;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use gateway_core::config::{AwsSettings, ResolvedProvider};
use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;

use crate::errors::{self, Detail};

/// An AWS provider's SDK configuration, loaded on first use: the standard credential chain
/// may read files or ask an instance metadata service, which needs the async runtime.
pub(crate) struct AwsSdk {
    id: String,
    settings: AwsSettings,
    endpoint: String,
    config: OnceCell<SdkConfig>,
}

impl AwsSdk {
    /// `None` when the provider has no AWS settings (not an AWS provider).
    pub(crate) fn new(provider: &ResolvedProvider) -> Option<Self> {
        Some(AwsSdk {
            id: provider.id.clone(),
            settings: provider.aws.clone()?,
            endpoint: provider.base_url.clone(),
            config: OnceCell::new(),
        })
    }

    pub(crate) async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(self.settings.region.clone()))
                    .retry_config(RetryConfig::disabled())
                    .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
                if self.settings.endpoint_overridden {
                    loader = loader.endpoint_url(self.endpoint.clone());
                }
                if let Some(c) = &self.settings.credentials {
                    loader = loader.credentials_provider(Credentials::new(
                        c.access_key_id.clone(),
                        c.secret_access_key.expose_secret().to_owned(),
                        c.session_token
                            .as_ref()
                            .map(|t| t.expose_secret().to_owned()),
                        None,
                        "llm-gateway-config",
                    ));
                }
                loader.load().await
            })
            .await
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The configured secret key, scrubbed from any message passed on.
    pub(crate) fn secret(&self) -> Option<&str> {
        self.settings
            .credentials
            .as_ref()
            .map(|c| c.secret_access_key.expose_secret())
    }

    pub(crate) fn endpoints(&self) -> &std::collections::BTreeMap<String, String> {
        &self.settings.endpoints
    }
}

/// A failed SDK call: the AWS error code decides the kind where it says more than the status.
pub(crate) fn sdk_error<E>(
    provider: &str,
    error: SdkError<E, HttpResponse>,
    secret: Option<&str>,
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let raw = service.raw();
            let status = raw.status().as_u16();
            let retry_after = raw
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            let err = service.err();
            aws_error(
                status,
                err.code(),
                err.message().unwrap_or("no details given"),
                retry_after,
                secret,
            )
        }
        SdkError::TimeoutError(_) => {
            ProviderError::new(ProviderErrorKind::Timeout, format!("{provider}: timed out"))
        }
        SdkError::DispatchFailure(failure) => {
            if let Some(error) = failure
                .as_connector_error()
                .and_then(|e| crate::local_limits::exhausted(provider, e))
            {
                return error;
            }
            let kind = if failure.is_timeout() {
                ProviderErrorKind::Timeout
            } else {
                ProviderErrorKind::Connect
            };
            tracing::warn!(provider, error = ?failure, "AWS dispatch failure");
            ProviderError::new(kind, format!("{provider}: the request could not be sent"))
        }
        SdkError::ResponseError(failure) => {
            tracing::warn!(provider, error = ?failure, "unreadable AWS response");
            ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("{provider} answered something that is not its protocol"),
            )
        }
        SdkError::ConstructionFailure(failure) => {
            tracing::warn!(provider, error = ?failure, "AWS request construction failed");
            ProviderError::new(
                ProviderErrorKind::InvalidRequest,
                format!(
                    "{provider}: the request could not be built (check the AWS credentials and region)"
                ),
            )
        }
        other => ProviderError::new(
            ProviderErrorKind::ServerError,
            format!(
                "{provider}: {}",
                aws_sdk_bedrockruntime::error::DisplayErrorContext(&other)
            ),
        ),
    }
}

/// An AWS error answer (`x-amzn-errortype` / `__type` code and message) as the gateway's kind.
pub(crate) fn aws_error(
    status: u16,
    code: Option<&str>,
    message: &str,
    retry_after: Option<Duration>,
    secret: Option<&str>,
) -> ProviderError {
    let mut error = errors::classify(
        status,
        Detail {
            message: message.to_owned(),
            code: code.map(str::to_owned),
            param: None,
            retry_after,
        },
        secret,
    );
    let by_code = match code.unwrap_or_default() {
        "ThrottlingException" | "ServiceQuotaExceededException" | "TooManyRequestsException" => {
            Some(ProviderErrorKind::RateLimited)
        }
        "ValidationException" | "ValidationError" => {
            Some(if errors::is_context_length(message, None) {
                ProviderErrorKind::ContextLength
            } else {
                ProviderErrorKind::InvalidRequest
            })
        }
        "ModelNotReadyException" | "ServiceUnavailableException" | "ServiceUnavailable" => {
            Some(ProviderErrorKind::Overloaded)
        }
        "InternalServerException"
        | "InternalFailure"
        | "InternalDependencyException"
        | "ModelErrorException"
        | "ModelError"
        | "ModelStreamErrorException" => Some(ProviderErrorKind::ServerError),
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => Some(ProviderErrorKind::Authentication),
        "ResourceNotFoundException" => Some(ProviderErrorKind::ModelNotFound),
        "ModelTimeoutException" => Some(ProviderErrorKind::Timeout),
        _ => None,
    };
    if let Some(kind) = by_code {
        error.kind = kind;
    }
    error
}

/// An exception event inside an event stream, after the stream began: the answer is cut.
pub(crate) fn stream_error<E, R>(
    provider: &str,
    error: SdkError<E, R>,
    secret: Option<&str>,
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let detail = match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("no details given")
            )
        }
        other => aws_sdk_bedrockruntime::error::DisplayErrorContext(other).to_string(),
    };
    let detail = errors::redact(&detail, secret);
    tracing::warn!(provider, error = %detail, "AWS event stream failed");
    ProviderError::new(
        ProviderErrorKind::StreamInterrupted,
        format!("{provider}: {}", errors::redact(&detail, secret)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_error_codes_map_to_the_documented_kinds() {
        let cases = [
            (400, "ThrottlingException", ProviderErrorKind::RateLimited),
            (429, "ThrottlingException", ProviderErrorKind::RateLimited),
            (
                400,
                "ValidationException",
                ProviderErrorKind::InvalidRequest,
            ),
            (400, "ValidationError", ProviderErrorKind::InvalidRequest),
            (429, "ModelNotReadyException", ProviderErrorKind::Overloaded),
            (
                503,
                "ServiceUnavailableException",
                ProviderErrorKind::Overloaded,
            ),
            (
                500,
                "InternalServerException",
                ProviderErrorKind::ServerError,
            ),
            (
                403,
                "AccessDeniedException",
                ProviderErrorKind::Authentication,
            ),
            (
                404,
                "ResourceNotFoundException",
                ProviderErrorKind::ModelNotFound,
            ),
            (408, "ModelTimeoutException", ProviderErrorKind::Timeout),
            (424, "ModelError", ProviderErrorKind::ServerError),
        ];
        for (status, code, kind) in cases {
            assert_eq!(
                aws_error(status, Some(code), "m", None, None).kind,
                kind,
                "{code}"
            );
        }
    }

    #[test]
    fn bedrock_context_length_messages_are_recognised() {
        for message in [
            "Input is too long for requested model.",
            "The model returned the following errors: prompt is too long: 210000 tokens > 200000 maximum",
            "Too many input tokens. Max input tokens: 8192, request input token count: 9000",
        ] {
            assert_eq!(
                aws_error(400, Some("ValidationException"), message, None, None).kind,
                ProviderErrorKind::ContextLength,
                "{message}"
            );
        }
    }

    #[test]
    fn the_secret_key_never_survives_in_messages() {
        let e = aws_error(
            403,
            Some("InvalidSignatureException"),
            "signature for wJalrXUtnFEMI/K7MDENG did not match",
            None,
            Some("wJalrXUtnFEMI/K7MDENG"),
        );
        assert!(!e.message.contains("wJalr"), "{}", e.message);
    }
}
