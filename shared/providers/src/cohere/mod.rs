//! Cohere's v2 API (`POST /v2/chat`, `POST /v2/embed`), translated both ways so that clients
//! keep speaking OpenAI.
//!
//! - `request`: OpenAI chat requests as Cohere bodies (names, ranges, refusals).
//! - `response`: Cohere answers, finish reasons and usage as OpenAI completions.
//! - `stream`: Cohere's named stream events as OpenAI chunks.
//! - `embed`: embeddings both ways.
//! - `error`: Cohere's error bodies and statuses.
//!
//! The pure translations are also public below ([`translate_request`] and friends), so the
//! table-driven suite in `tests/cohere_translation.rs` can run Cohere's documented examples
//! through them without a network.

mod embed;
mod error;
mod request;
mod response;
mod stream;

use ::http::Uri;
use async_trait::async_trait;
use gateway_core::config::ResolvedProvider;
use gateway_core::upstream::{ChatReply, ChunkStream, Provider, ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatRequest, EmbeddingsRequest, EmbeddingsResponse};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;

use crate::http::{self, HttpClient, UpstreamResponse};
use crate::translate::sse_events;
use crate::{InvalidBaseUrl, endpoint};

pub struct Cohere {
    id: String,
    chat_url: Uri,
    embed_url: Uri,
    api_key: Option<SecretString>,
    client: HttpClient,
}

impl Cohere {
    pub fn new(provider: &ResolvedProvider, client: HttpClient) -> Result<Self, InvalidBaseUrl> {
        Ok(Cohere {
            id: provider.id.clone(),
            chat_url: endpoint(provider, "/v2/chat")?,
            embed_url: endpoint(provider, "/v2/embed")?,
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
                error::from_response,
                self.api_key.as_ref(),
            )
            .await
    }
}

#[async_trait]
impl Provider for Cohere {
    fn id(&self) -> &str {
        &self.id
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let model = request.model.clone();
        let body = request::chat_body(request, false)?;
        let response = self.post(&self.chat_url, &body, false).await?;
        let answer: response::ChatResponse = response.json("a Cohere chat response").await?;
        response::reply(answer, &model)
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChunkStream, ProviderError> {
        let model = request.model.clone();
        let body = request::chat_body(request, true)?;
        let response = self.post(&self.chat_url, &body, true).await?;
        let events = Box::pin(sse_events(self.id.clone(), response));
        Ok(Box::pin(stream::chunks(events, model)))
    }

    async fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        let model = request.model.clone();
        let body = embed::embed_body(request)?;
        let response = self.post(&self.embed_url, &body, false).await?;
        let answer: embed::EmbedResponse = response.json("a Cohere embed response").await?;
        embed::cohere_embed_to_openai_embeddings(answer, model)
    }
}

/// The Cohere `/v2/chat` body the adapter sends for `request`.
pub fn translate_request(request: ChatRequest, stream: bool) -> Result<Value, ProviderError> {
    let body = request::chat_body(request, stream)?;
    serde_json::to_value(body)
        .map_err(|e| ProviderError::new(ProviderErrorKind::InvalidResponse, e.to_string()))
}

/// The OpenAI `chat.completion` the adapter answers for a Cohere `/v2/chat` response body.
pub fn translate_response(body: &[u8], model: &str) -> Result<Value, ProviderError> {
    let answer: response::ChatResponse = serde_json::from_slice(body)
        .map_err(|e| ProviderError::new(ProviderErrorKind::InvalidResponse, e.to_string()))?;
    let reply = response::reply(answer, model)?;
    serde_json::from_slice(&reply.body)
        .map_err(|e| ProviderError::new(ProviderErrorKind::InvalidResponse, e.to_string()))
}

/// The OpenAI chunks the adapter streams for a Cohere stream, given each event's `data`.
pub fn translate_stream<'a>(
    model: &str,
    events: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Value>, ProviderError> {
    stream::translate_events(model, events)
}

/// The Cohere `/v2/embed` body the adapter sends for `request`.
pub fn translate_embeddings_request(request: EmbeddingsRequest) -> Result<Value, ProviderError> {
    let body = embed::embed_body(request)?;
    serde_json::to_value(body)
        .map_err(|e| ProviderError::new(ProviderErrorKind::InvalidResponse, e.to_string()))
}

/// The OpenAI embeddings answer the adapter makes of a Cohere `/v2/embed` response body.
pub fn translate_embeddings_response(
    body: &[u8],
    model: &str,
) -> Result<EmbeddingsResponse, ProviderError> {
    let answer: embed::EmbedResponse = serde_json::from_slice(body)
        .map_err(|e| ProviderError::new(ProviderErrorKind::InvalidResponse, e.to_string()))?;
    embed::cohere_embed_to_openai_embeddings(answer, model.to_owned())
}

/// What the adapter makes of a Cohere error answer.
pub fn translate_error(status: u16, body: &[u8]) -> ProviderError {
    error::from_response(status, None, body, None)
}
