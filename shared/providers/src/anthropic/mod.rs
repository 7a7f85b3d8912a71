//! Anthropic's Messages API (`POST {base}/v1/messages`), translated to and from OpenAI chat.
//!
//! - [`request`]: OpenAI request → Messages request (system hoisting, turn merging, tool and
//!   image blocks, refusals of what Anthropic cannot do);
//! - [`response`]: Message → `chat.completion`, stop reasons, usage;
//! - [`stream`]: stream events → `chat.completion.chunk`s;
//! - [`errors`]: Anthropic's error bodies and `error` events.
//!
//! Anthropic has no embeddings API: the catalog lists no Anthropic embedding model, so routing
//! refuses such requests before they reach this adapter, which refuses them too.
//!
//! The translation functions are public so that the table-driven translation suite
//! (`tests/anthropic_translation.rs`) can run Anthropic's documented examples through them.

mod errors;
pub mod request;
pub mod response;
pub mod stream;

use std::collections::HashMap;

use ::http::Uri;
use ::http::header::HeaderValue;
use async_trait::async_trait;
use bytes::Bytes;
use gateway_core::catalog::{Catalog, ModelKind};
use gateway_core::config::ResolvedProvider;
use gateway_core::upstream::{ChatReply, ChunkStream, Provider, ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatRequest, EmbeddingsRequest, EmbeddingsResponse};
use secrecy::{ExposeSecret, SecretString};

use crate::http::{self, HttpClient, UpstreamResponse};
use crate::translate::sse_events;
use crate::{InvalidBaseUrl, endpoint};

pub use request::{MessagesRequest, to_messages_request};
pub use response::message_to_chat_completion;
pub use stream::StreamTranslator;

/// The API version every request declares; the translation follows this version's shapes.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
const ANTHROPIC_VERSION_HEADER: &str = "anthropic-version";
const API_KEY_HEADER: &str = "x-api-key";

/// `max_tokens` for a model the catalog does not know, when the client set no limit: the
/// longest answer every Claude model can give (Claude 3 Haiku's maximum).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

pub struct Anthropic {
    id: String,
    messages_url: Uri,
    api_key: Option<SecretString>,
    client: HttpClient,
    /// Each built-in catalog model's longest answer, by Anthropic's model name: Anthropic
    /// requires `max_tokens`, and a client that sets none expects no limit below the model's
    /// own. Models only a deployment's own catalog file adds get [`DEFAULT_MAX_TOKENS`].
    max_output_tokens: HashMap<String, u64>,
}

impl Anthropic {
    pub fn new(provider: &ResolvedProvider, client: HttpClient) -> Result<Self, InvalidBaseUrl> {
        let max_output_tokens = Catalog::built_in()
            .map(|catalog| {
                catalog
                    .models()
                    .filter(|m| m.kind == ModelKind::Chat && m.max_output_tokens > 0)
                    .filter(|m| m.provider() == "anthropic" || m.provider() == provider.id)
                    .map(|m| (m.upstream_name().to_owned(), m.max_output_tokens))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Anthropic {
            id: provider.id.clone(),
            messages_url: endpoint(provider, "/v1/messages")?,
            api_key: provider.api_key.clone(),
            client,
            max_output_tokens,
        })
    }

    fn translate(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<MessagesRequest, ProviderError> {
        let default = self
            .max_output_tokens
            .get(&request.model)
            .copied()
            .unwrap_or(DEFAULT_MAX_TOKENS);
        to_messages_request(request, default, stream)
    }

    async fn post(
        &self,
        body: &MessagesRequest,
        stream: bool,
    ) -> Result<UpstreamResponse, ProviderError> {
        let mut headers = http::json_headers(stream);
        headers.insert(
            ANTHROPIC_VERSION_HEADER,
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        if let Some(key) = &self.api_key {
            headers.insert(API_KEY_HEADER, http::secret_header(key.expose_secret())?);
        }
        self.client
            .post_json(
                &self.id,
                &self.messages_url,
                headers,
                body,
                errors::from_response,
                self.api_key.as_ref(),
            )
            .await
    }
}

#[async_trait]
impl Provider for Anthropic {
    fn id(&self) -> &str {
        &self.id
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let body = self.translate(&request, false)?;
        let response = self.post(&body, false).await?;
        let bytes = response.bytes().await?;
        let completion = message_to_chat_completion(&bytes)?;
        let body = serde_json::to_vec(&completion).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("cannot encode the translated completion: {e}"),
            )
        })?;
        Ok(ChatReply {
            body: Bytes::from(body),
            usage: completion.usage,
        })
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChunkStream, ProviderError> {
        let body = self.translate(&request, true)?;
        let response = self.post(&body, true).await?;
        Ok(stream::chunk_stream(
            self.id.clone(),
            sse_events(self.id.clone(), response),
        ))
    }

    async fn embeddings(
        &self,
        _request: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        Err(ProviderError::unsupported(
            "model",
            "Anthropic has no embeddings API; use an embedding model of another provider.",
        ))
    }
}
