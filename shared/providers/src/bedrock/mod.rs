//! AWS Bedrock Runtime through the AWS SDK: Converse and ConverseStream for chat (every
//! Bedrock chat model, Claude, Llama, Mistral, Nova, Titan, behind one message format), and
//! InvokeModel with Amazon Titan Text Embeddings for `/v1/embeddings`.
//!
//! - [`request`]: OpenAI chat request -> Converse request parts.
//! - [`response`]: Converse answer -> `chat.completion`; stop reasons and usage.
//! - [`stream`]: ConverseStream events -> `chat.completion.chunk`s.
//! - [`embeddings`]: Titan InvokeModel bodies and answers.

mod document;
mod embeddings;
mod request;
mod response;
mod stream;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::http::HttpResponse;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::primitives::Blob;
use futures::{StreamExt, TryStreamExt};
use gateway_core::config::ResolvedProvider;
use gateway_core::upstream::{ChatReply, ChunkStream, Provider, ProviderError, ProviderErrorKind};
use gateway_core::wire::{
    ChatRequest, EmbeddingData, EmbeddingVector, EmbeddingsRequest, EmbeddingsResponse,
    EmbeddingsUsage,
};
use tokio::sync::OnceCell;

use crate::aws::{AwsSdk, sdk_error, stream_error};

/// Titan embeds one text per call: this many calls run at once for a list of inputs.
const EMBEDDING_CALLS_AT_ONCE: usize = 8;

pub struct Bedrock {
    sdk: AwsSdk,
    client: OnceCell<Client>,
}

impl Bedrock {
    /// `None` when `provider` has no AWS settings.
    pub fn new(provider: &ResolvedProvider) -> Option<Self> {
        Some(Bedrock {
            sdk: AwsSdk::new(provider)?,
            client: OnceCell::new(),
        })
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async { Client::new(self.sdk.config().await) })
            .await
    }

    async fn embed_one(
        &self,
        client: &Client,
        model: &str,
        body: Vec<u8>,
    ) -> Result<embeddings::TitanResponse, ProviderError> {
        let output = client
            .invoke_model()
            .model_id(model)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        embeddings::titan_response(output.body().as_ref())
    }

    fn error<E>(&self, error: SdkError<E, HttpResponse>) -> ProviderError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        sdk_error(self.sdk.id(), error, self.sdk.secret())
    }
}

#[async_trait]
impl Provider for Bedrock {
    fn id(&self) -> &str {
        self.sdk.id()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let parts = request::chat_to_converse(&request)?;
        let output = self
            .client()
            .await
            .converse()
            .model_id(&request.model)
            .set_messages(Some(parts.messages))
            .set_system((!parts.system.is_empty()).then_some(parts.system))
            .set_inference_config(parts.inference)
            .set_tool_config(parts.tools)
            .set_output_config(parts.output)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        response::converse_to_completion(&request.model, &output).into_reply()
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChunkStream, ProviderError> {
        let parts = request::chat_to_converse(&request)?;
        let output = self
            .client()
            .await
            .converse_stream()
            .model_id(&request.model)
            .set_messages(Some(parts.messages))
            .set_system((!parts.system.is_empty()).then_some(parts.system))
            .set_inference_config(parts.inference)
            .set_tool_config(parts.tools)
            .set_output_config(parts.output)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let provider = self.sdk.id().to_owned();
        let secret = self.sdk.secret().map(str::to_owned);
        let translator = stream::StreamTranslator::new(&request.model);
        let chunks = futures::stream::unfold(
            Some((output.stream, translator, provider, secret)),
            |state| async move {
                let (mut events, mut translator, provider, secret) = state?;
                match events.recv().await {
                    Ok(Some(event)) => {
                        let chunks: Vec<_> = translator.event(&event).into_iter().map(Ok).collect();
                        Some((chunks, Some((events, translator, provider, secret))))
                    }
                    Ok(None) if translator.finished() => None,
                    Ok(None) => Some((
                        vec![Err(ProviderError::new(
                            ProviderErrorKind::StreamInterrupted,
                            format!("{provider}: the stream ended before messageStop"),
                        ))],
                        None,
                    )),
                    Err(e) => Some((
                        vec![Err(stream_error(&provider, e, secret.as_deref()))],
                        None,
                    )),
                }
            },
        )
        .flat_map(futures::stream::iter);
        Ok(Box::pin(chunks))
    }

    async fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, ProviderError> {
        let bodies = embeddings::titan_requests(&request)?
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ProviderError::new(
                    ProviderErrorKind::InvalidResponse,
                    format!("cannot encode the request: {e}"),
                )
            })?;
        let client = self.client().await;
        let calls = bodies
            .into_iter()
            .map(|body| self.embed_one(client, &request.model, body));
        let answers: Vec<_> = futures::stream::iter(calls)
            .buffered(EMBEDDING_CALLS_AT_ONCE)
            .try_collect()
            .await?;
        let prompt_tokens = answers.iter().map(|a| a.input_text_token_count).sum();
        Ok(EmbeddingsResponse {
            object: "list".to_owned(),
            data: answers
                .into_iter()
                .enumerate()
                .map(|(index, answer)| EmbeddingData {
                    object: "embedding".to_owned(),
                    index: index as u32,
                    embedding: EmbeddingVector::Float(answer.embedding),
                })
                .collect(),
            model: request.model.clone(),
            usage: EmbeddingsUsage {
                prompt_tokens,
                total_tokens: prompt_tokens,
            },
        })
    }
}
