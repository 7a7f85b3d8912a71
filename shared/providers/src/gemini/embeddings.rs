//! `/v1/embeddings` through `embedContent` (one text) and `batchEmbedContents` (several, at
//! most [`MAX_BATCH`] per call, so larger inputs take several calls).
//!
//! Gemini embeds text only (token-id inputs are refused) and reports no token usage, so the
//! prompt tokens are counted by the gateway. `dimensions` becomes `outputDimensionality`.

use gateway_core::upstream::ProviderError;
use gateway_core::wire::{
    EmbeddingData, EmbeddingInput, EmbeddingVector, EmbeddingsRequest, EmbeddingsResponse,
    EmbeddingsUsage,
};

use super::wire::{Content, EmbedContentRequest, Part};

/// Gemini's limit on requests in one `batchEmbedContents` call.
pub const MAX_BATCH: usize = 100;

/// The texts to embed, refusing token ids.
pub fn texts(request: &EmbeddingsRequest) -> Result<Vec<&str>, ProviderError> {
    match &request.input {
        EmbeddingInput::Text(text) => Ok(vec![text.as_str()]),
        EmbeddingInput::Texts(texts) => Ok(texts.iter().map(String::as_str).collect()),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => Err(
            ProviderError::unsupported("input", "Gemini embeds text only, not token ids."),
        ),
    }
}

/// One `EmbedContentRequest`; `model` is set for batch items (`models/{model}`).
pub fn embed_request(
    text: &str,
    model: Option<&str>,
    dimensions: Option<u32>,
) -> EmbedContentRequest {
    EmbedContentRequest {
        model: model.map(|m| format!("models/{m}")),
        content: Content {
            role: None,
            parts: vec![Part::text(text)],
        },
        output_dimensionality: dimensions,
    }
}

/// The OpenAI list for vectors in input order.
pub fn embeddings_response(
    model: &str,
    texts: &[&str],
    vectors: Vec<Vec<f32>>,
) -> EmbeddingsResponse {
    let prompt_tokens = texts
        .iter()
        .map(|t| gateway_core::tokens::count_text(t))
        .sum();
    EmbeddingsResponse {
        object: "list".to_owned(),
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(index, values)| EmbeddingData {
                object: "embedding".to_owned(),
                index: index as u32,
                embedding: EmbeddingVector::Float(values),
            })
            .collect(),
        model: model.to_owned(),
        usage: EmbeddingsUsage {
            prompt_tokens,
            total_tokens: prompt_tokens,
        },
    }
}
