//! OpenAI embeddings requests as Cohere `/v2/embed` calls, and the vectors back.
//!
//! Cohere needs an `input_type`; OpenAI has none. The gateway sends `search_document`,
//! Cohere's type for text that is stored and searched, which suits what OpenAI embeddings
//! are mostly used for. Vectors are asked for as floats (`embedding_types: ["float"]`);
//! `dimensions` becomes `output_dimension`, which only embed-v4.0 and later take.

use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use gateway_core::wire::{
    EmbeddingData, EmbeddingInput, EmbeddingVector, EmbeddingsRequest, EmbeddingsResponse,
    EmbeddingsUsage,
};
use serde::{Deserialize, Serialize};

/// The `input_type` sent with every request.
pub(crate) const INPUT_TYPE: &str = "search_document";

/// Models that take `output_dimension` (Cohere's v3 models have a fixed size).
const SIZED_MODELS: &[&str] = &["embed-v4.0"];

#[derive(Debug, Serialize)]
pub(crate) struct EmbedBody {
    pub model: String,
    pub input_type: &'static str,
    pub texts: Vec<String>,
    pub embedding_types: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dimension: Option<u32>,
}

pub(crate) fn embed_body(request: EmbeddingsRequest) -> Result<EmbedBody, ProviderError> {
    let texts = match request.input {
        EmbeddingInput::Text(text) => vec![text],
        EmbeddingInput::Texts(texts) => texts,
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => {
            return Err(ProviderError::unsupported(
                "input",
                "Cohere embeds text only; token arrays are not supported.",
            ));
        }
    };
    if let Some(name) = request.extra.keys().next() {
        return Err(ProviderError::unsupported(
            name,
            format!("`{name}` is not supported by Cohere embeddings."),
        ));
    }
    if request.dimensions.is_some() && !SIZED_MODELS.contains(&request.model.as_str()) {
        return Err(ProviderError::unsupported(
            "dimensions",
            format!(
                "`{}` has a fixed size; Cohere takes `dimensions` for embed-v4.0 only.",
                request.model
            ),
        ));
    }
    Ok(EmbedBody {
        model: request.model,
        input_type: INPUT_TYPE,
        texts,
        embedding_types: ["float"],
        output_dimension: request.dimensions,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct EmbedResponse {
    pub embeddings: Embeddings,
    #[serde(default)]
    pub meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Embeddings {
    #[serde(default)]
    pub float: Option<Vec<Vec<f32>>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Meta {
    #[serde(default)]
    pub billed_units: Option<BilledUnits>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BilledUnits {
    #[serde(default)]
    pub input_tokens: Option<f64>,
}

pub(crate) fn cohere_embed_to_openai_embeddings(
    response: EmbedResponse,
    model: String,
) -> Result<EmbeddingsResponse, ProviderError> {
    let vectors = response.embeddings.float.ok_or_else(|| {
        ProviderError::new(
            ProviderErrorKind::InvalidResponse,
            "Cohere's answer has no float embeddings",
        )
    })?;
    let tokens = response
        .meta
        .and_then(|m| m.billed_units)
        .and_then(|b| b.input_tokens)
        .filter(|t| t.is_finite() && *t > 0.0)
        .map_or(0, |t| t.round() as u64);
    Ok(EmbeddingsResponse {
        object: "list".to_owned(),
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(index, vector)| EmbeddingData {
                object: "embedding".to_owned(),
                index: index as u32,
                embedding: EmbeddingVector::Float(vector),
            })
            .collect(),
        model,
        usage: EmbeddingsUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    })
}
