//! Amazon SageMaker Runtime endpoints through the AWS SDK, for containers that speak the
//! OpenAI messages schema (LMI, vLLM, TGI): InvokeEndpoint for whole answers,
//! InvokeEndpointWithResponseStream for streams.
//!
//! Models are the names configured in `endpoints`, each mapped to its endpoint. The
//! container answers in OpenAI's shape already, so answers are only completed (fields
//! OpenAI's schema requires) and streams passed on chunk by chunk.
//!
//! - [`body`]: the invocation body.
//! - [`lines`]: SSE lines reassembled from the stream's payload parts.

mod body;
mod lines;

use async_trait::async_trait;
use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::error::SdkError;
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
use aws_sdk_sagemakerruntime::operation::invoke_endpoint_with_response_stream::InvokeEndpointWithResponseStreamError;
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_sdk_sagemakerruntime::types::ResponseStream;
use bytes::Bytes;
use futures::StreamExt;
use gateway_core::config::ResolvedProvider;
use gateway_core::upstream::{ChatReply, ChunkStream, Provider, ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatCompletion, ChatRequest, EmbeddingsRequest, EmbeddingsResponse};
use tokio::sync::OnceCell;

use crate::aws::{AwsSdk, sdk_error, stream_error};
use crate::errors;
use lines::{Line, LineBuffer};

const JSON: &str = "application/json";

pub struct Sagemaker {
    sdk: AwsSdk,
    client: OnceCell<Client>,
}

impl Sagemaker {
    /// `None` when `provider` has no AWS settings.
    pub fn new(provider: &ResolvedProvider) -> Option<Self> {
        Some(Sagemaker {
            sdk: AwsSdk::new(provider)?,
            client: OnceCell::new(),
        })
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async { Client::new(self.sdk.config().await) })
            .await
    }

    fn endpoint(&self, model: &str) -> Result<&str, ProviderError> {
        self.sdk
            .endpoints()
            .get(model)
            .map(String::as_str)
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::ModelNotFound,
                    format!("no SageMaker endpoint is configured for `{model}`"),
                )
            })
    }

    /// A container's own 4xx arrives as a `ModelError` carrying its status and body: the
    /// client's request was at fault, not the endpoint.
    fn model_error(&self, status: Option<i32>, message: Option<&str>) -> Option<ProviderError> {
        let status = u16::try_from(status?)
            .ok()
            .filter(|s| (400..500).contains(s))?;
        Some(errors::from_status(
            status,
            None,
            message.unwrap_or_default().as_bytes(),
            self.sdk.secret(),
        ))
    }
}

#[async_trait]
impl Provider for Sagemaker {
    fn id(&self) -> &str {
        self.sdk.id()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let endpoint = self.endpoint(&request.model)?;
        let body = body::invocation_body(request, false)?;
        let output = self
            .client()
            .await
            .invoke_endpoint()
            .endpoint_name(endpoint)
            .content_type(JSON)
            .accept(JSON)
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| {
                if let SdkError::ServiceError(service) = &e
                    && let InvokeEndpointError::ModelError(m) = service.err()
                    && let Some(error) =
                        self.model_error(m.original_status_code(), m.original_message())
                {
                    return error;
                }
                sdk_error(self.sdk.id(), e, self.sdk.secret())
            })?;
        let body = output.body().map(|b| b.as_ref()).unwrap_or_default();
        let completion: ChatCompletion = serde_json::from_slice(body).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("the endpoint's answer is not a chat completion ({e})"),
            )
        })?;
        // A round trip through the typed completion adds what OpenAI's schema requires and
        // a container may leave out (`logprobs`, `refusal`).
        let body = serde_json::to_vec(&completion)
            .map_err(|e| ProviderError::new(ProviderErrorKind::InvalidResponse, e.to_string()))?;
        Ok(ChatReply {
            body: Bytes::from(body),
            usage: completion.usage,
        })
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChunkStream, ProviderError> {
        let endpoint = self.endpoint(&request.model)?;
        let body = body::invocation_body(request, true)?;
        let output = self
            .client()
            .await
            .invoke_endpoint_with_response_stream()
            .endpoint_name(endpoint)
            .content_type(JSON)
            .accept("text/event-stream")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| {
                if let SdkError::ServiceError(service) = &e
                    && let InvokeEndpointWithResponseStreamError::ModelError(m) = service.err()
                    && let Some(error) =
                        self.model_error(m.original_status_code(), m.original_message())
                {
                    return error;
                }
                sdk_error(self.sdk.id(), e, self.sdk.secret())
            })?;
        let provider = self.sdk.id().to_owned();
        let secret = self.sdk.secret().map(str::to_owned);
        let chunks = futures::stream::unfold(
            Some((output.body, LineBuffer::default(), provider, secret)),
            |state| async move {
                let (mut events, mut buffer, provider, secret) = state?;
                let (lines, more) = match events.recv().await {
                    Ok(Some(ResponseStream::PayloadPart(part))) => (
                        buffer.push(part.bytes().map(|b| b.as_ref()).unwrap_or_default()),
                        true,
                    ),
                    Ok(Some(_)) => (Vec::new(), true),
                    Ok(None) => (buffer.finish().into_iter().collect(), false),
                    Err(e) => {
                        return Some((
                            vec![Err(stream_error(&provider, e, secret.as_deref()))],
                            None,
                        ));
                    }
                };
                let mut out = Vec::with_capacity(lines.len());
                for line in lines {
                    match line {
                        Line::Chunk(chunk) => out.push(Ok(chunk)),
                        Line::Done => return Some((out, None)),
                    }
                }
                if more {
                    Some((out, Some((events, buffer, provider, secret))))
                } else {
                    // The container never said `[DONE]`: the stream was cut.
                    out.push(Err(ProviderError::new(
                        ProviderErrorKind::StreamInterrupted,
                        format!("{provider}: the stream ended before [DONE]"),
                    )));
                    Some((out, None))
                }
            },
        )
        .flat_map(futures::stream::iter);
        Ok(Box::pin(chunks))
    }

    async fn embeddings(
        &self,
        _request: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        Err(ProviderError::unsupported(
            "model",
            "SageMaker endpoints are served for chat only",
        ))
    }
}
