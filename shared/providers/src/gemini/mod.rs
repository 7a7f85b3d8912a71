//! Google Gemini's native API (`generativelanguage.googleapis.com`, v1beta): chat through
//! `models/{model}:generateContent` and `:streamGenerateContent?alt=sse`, embeddings through
//! `:embedContent` and `:batchEmbedContents`, the key in `x-goog-api-key`.
//!
//! - [`request`]: OpenAI chat request → `GenerateContentRequest` (and what is refused).
//! - [`response`]: `GenerateContentResponse` → `chat.completion`.
//! - [`stream`]: SSE events → `chat.completion.chunk`s.
//! - [`errors`]: Google's error body → the gateway's error kinds.
//! - [`embeddings`]: `/v1/embeddings` in Gemini's terms.
//! - [`wire`]: Gemini's JSON.
//!
//! The translations are pure functions, public so that the table-driven suite
//! (`tests/gemini_translation.rs`) can run Google's documented examples through them.

pub mod embeddings;
pub mod errors;
pub mod request;
pub mod response;
pub mod stream;
pub mod wire;

use ::http::Uri;
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use gateway_core::config::ResolvedProvider;
use gateway_core::upstream::{ChatReply, ChunkStream, Provider, ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatRequest, EmbeddingsRequest, EmbeddingsResponse};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use self::stream::StreamTranslator;
use self::wire::{
    BatchEmbedContentsRequest, BatchEmbedContentsResponse, EmbedContentResponse,
    GenerateContentResponse,
};
use crate::http::{self, HttpClient, UpstreamResponse};
use crate::translate::sse_events;
use crate::{InvalidBaseUrl, endpoint};

/// The header Google reads the API key from.
const API_KEY_HEADER: &str = "x-goog-api-key";

/// Everything but RFC 3986's unreserved characters is escaped in a path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub struct Gemini {
    id: String,
    /// `{base_url}/v1beta/models/`, to which `{model}:{method}` is appended.
    models_url: String,
    api_key: Option<SecretString>,
    client: HttpClient,
}

impl Gemini {
    pub fn new(provider: &ResolvedProvider, client: HttpClient) -> Result<Self, InvalidBaseUrl> {
        // Checked once here; each call's URL only adds an escaped segment to it.
        let models_url = endpoint(provider, "/v1beta/models/")?.to_string();
        Ok(Gemini {
            id: provider.id.clone(),
            models_url,
            api_key: provider.api_key.clone(),
            client,
        })
    }

    /// `…/models/{model}:{method}`, the model name escaped as one path segment, and `query`.
    fn url(&self, model: &str, method: &str, query: Option<&str>) -> Result<Uri, ProviderError> {
        let model = utf8_percent_encode(model, PATH_SEGMENT);
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        format!("{}{model}:{method}{query}", self.models_url)
            .parse()
            .map_err(|e| {
                ProviderError::unsupported("model", format!("not a usable Gemini model name ({e})"))
            })
    }

    fn secret(&self) -> Option<String> {
        self.api_key.as_ref().map(|k| k.expose_secret().to_owned())
    }

    async fn post(
        &self,
        url: Uri,
        body: &impl Serialize,
        stream: bool,
    ) -> Result<UpstreamResponse, ProviderError> {
        let mut headers = http::json_headers(stream);
        if let Some(key) = &self.api_key {
            headers.insert(API_KEY_HEADER, http::secret_header(key.expose_secret())?);
        }
        self.client
            .post_json(
                &self.id,
                &url,
                headers,
                body,
                |status, retry_after, body, secret| {
                    errors::error_from_google(Some(status), retry_after, body, secret)
                },
                self.api_key.as_ref(),
            )
            .await
    }
}

#[async_trait]
impl Provider for Gemini {
    fn id(&self) -> &str {
        &self.id
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let body = request::generate_content_request(&request, false)?;
        let url = self.url(&request.model, "generateContent", None)?;
        let response = self.post(url, &body, false).await?;
        let answer: GenerateContentResponse =
            response.json("a Gemini GenerateContentResponse").await?;
        response::chat_reply(answer, &request.model)
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChunkStream, ProviderError> {
        let body = request::generate_content_request(&request, true)?;
        let url = self.url(&request.model, "streamGenerateContent", Some("alt=sse"))?;
        let response = self.post(url, &body, true).await?;
        let events = Box::pin(sse_events(self.id.clone(), response));
        let translator = StreamTranslator::new(request.model.clone(), self.secret());
        let steps = futures::stream::unfold(
            (events, translator, false),
            |(mut events, mut translator, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let (step, done) = match events.next().await {
                        Some(Ok(event)) if event.data.trim().is_empty() => continue,
                        Some(Ok(event)) => match translator.event(&event.data) {
                            Ok(chunks) if chunks.is_empty() => continue,
                            Ok(chunks) => (Ok(chunks), false),
                            Err(e) => (Err(e), true),
                        },
                        Some(Err(e)) => (Err(e), true),
                        None => (translator.end(), true),
                    };
                    return Some((step, (events, translator, done)));
                }
            },
        );
        let chunks = steps.flat_map(|step| {
            let items: Vec<Result<Bytes, ProviderError>> = match step {
                Ok(chunks) => chunks.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        });
        Ok(Box::pin(chunks))
    }

    async fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        let texts = embeddings::texts(&request)?;
        let model = request.model.as_str();
        let mut vectors = Vec::with_capacity(texts.len());
        if let [text] = texts.as_slice() {
            let body = embeddings::embed_request(text, None, request.dimensions);
            let response = self
                .post(self.url(model, "embedContent", None)?, &body, false)
                .await?;
            let answer: EmbedContentResponse =
                response.json("a Gemini EmbedContentResponse").await?;
            vectors.push(answer.embedding.values);
        } else {
            for batch in texts.chunks(embeddings::MAX_BATCH) {
                let body = BatchEmbedContentsRequest {
                    requests: batch
                        .iter()
                        .map(|text| {
                            embeddings::embed_request(text, Some(model), request.dimensions)
                        })
                        .collect(),
                };
                let response = self
                    .post(self.url(model, "batchEmbedContents", None)?, &body, false)
                    .await?;
                let answer: BatchEmbedContentsResponse =
                    response.json("a Gemini BatchEmbedContentsResponse").await?;
                if answer.embeddings.len() != batch.len() {
                    return Err(ProviderError::new(
                        ProviderErrorKind::InvalidResponse,
                        format!(
                            "Gemini returned {} embeddings for {} texts",
                            answer.embeddings.len(),
                            batch.len()
                        ),
                    ));
                }
                vectors.extend(answer.embeddings.into_iter().map(|e| e.values));
            }
        }
        let owned: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        let model = model.to_owned();
        // Counting tokens is CPU work: off the async runtime.
        tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
            embeddings::embeddings_response(&model, &texts, vectors)
        })
        .await
        .map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::ServerError,
                format!("counting embedding tokens failed: {e}"),
            )
        })
    }
}
