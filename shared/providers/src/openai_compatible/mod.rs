//! The OpenAI dialect: OpenAI itself and every provider or server that copies its API.
//!
//! One adapter; the differences between providers are data in [`quirks`], each checked against
//! that provider's published spec. Streams are forwarded as the provider sends them: each SSE
//! `data:` payload becomes one chunk, never re-serialised.

mod quirks;

pub use quirks::Variant;

use ::http::Uri;
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use gateway_core::config::ResolvedProvider;
use gateway_core::upstream::{ChatReply, ChunkStream, Provider, ProviderError, ProviderErrorKind};
use gateway_core::wire::{
    ChatCompletion, ChatRequest, CompletionView, EmbeddingsRequest, EmbeddingsResponse,
};
use secrecy::SecretString;
use serde::Serialize;

use crate::errors;
use crate::http::{self, HttpClient, UpstreamResponse};
use crate::translate::sse_events;
use crate::{InvalidBaseUrl, endpoint};

pub struct OpenAiCompatible {
    id: String,
    dialect: Variant,
    chat_url: Uri,
    embeddings_url: Uri,
    api_key: Option<SecretString>,
    client: HttpClient,
}

impl OpenAiCompatible {
    pub fn new(
        provider: &ResolvedProvider,
        variant: Variant,
        client: HttpClient,
    ) -> Result<Self, InvalidBaseUrl> {
        Ok(OpenAiCompatible {
            id: provider.id.clone(),
            dialect: variant,
            chat_url: endpoint(provider, "/chat/completions")?,
            embeddings_url: endpoint(provider, "/embeddings")?,
            api_key: provider.api_key.clone(),
            client,
        })
    }

    async fn post(
        &self,
        url: &Uri,
        body: &impl Serialize,
        stream: bool,
    ) -> Result<UpstreamResponse, ProviderError> {
        let headers = http::bearer_json_headers(stream, self.api_key.as_ref())?;
        self.client
            .post_json(
                &self.id,
                url,
                headers,
                body,
                errors::from_status,
                self.api_key.as_ref(),
            )
            .await
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    fn id(&self) -> &str {
        &self.id
    }

    async fn chat(&self, mut request: ChatRequest) -> Result<ChatReply, ProviderError> {
        quirks::shape_chat(self.dialect, &mut request, false)?;
        let response = self.post(&self.chat_url, &request, false).await?;
        let body = response.bytes().await?;
        let not_a_completion = |e: serde_json::Error| {
            ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("the response is not a chat completion ({e})"),
            )
        };
        if self.dialect == Variant::Openai {
            // OpenAI's own answer is the contract: forwarded byte for byte.
            let view: CompletionView = serde_json::from_slice(&body).map_err(not_a_completion)?;
            return Ok(ChatReply {
                body,
                usage: view.usage,
            });
        }
        // Others may leave out fields OpenAI's schema requires (`logprobs`, `refusal`); a
        // round trip through the typed completion puts them in.
        let completion: ChatCompletion = serde_json::from_slice(&body).map_err(not_a_completion)?;
        let body = serde_json::to_vec(&completion).map_err(not_a_completion)?;
        Ok(ChatReply {
            body: Bytes::from(body),
            usage: completion.usage,
        })
    }

    async fn chat_stream(&self, mut request: ChatRequest) -> Result<ChunkStream, ProviderError> {
        quirks::shape_chat(self.dialect, &mut request, true)?;
        let response = self.post(&self.chat_url, &request, true).await?;
        let chunks = sse_events(self.id.clone(), response)
            .take_while(|event| {
                let done = matches!(event, Ok(e) if e.data.trim() == "[DONE]");
                std::future::ready(!done)
            })
            .filter_map(|event| {
                let item = match event {
                    Ok(event) if event.data.is_empty() => None,
                    Ok(event) => Some(Ok(Bytes::from(event.data))),
                    Err(e) => Some(Err(e)),
                };
                std::future::ready(item)
            });
        Ok(Box::pin(chunks))
    }

    async fn embeddings(
        &self,
        mut request: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        quirks::shape_embeddings(self.dialect, &mut request)?;
        let response = self.post(&self.embeddings_url, &request, false).await?;
        response.json("an OpenAI-shaped body").await
    }
}
