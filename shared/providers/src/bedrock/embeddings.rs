//! OpenAI embeddings through Amazon Titan Text Embeddings on Bedrock (InvokeModel), one call
//! per input: Titan embeds one text at a time.

use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use gateway_core::wire::{EmbeddingInput, EmbeddingsRequest};
use serde::{Deserialize, Serialize};

/// The model family whose InvokeModel body this module writes.
const TITAN_EMBED_PREFIX: &str = "amazon.titan-embed-text";

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TitanRequest<'a> {
    pub input_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// OpenAI's vectors are unit length; Titan v2 makes them so when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TitanResponse {
    pub embedding: Vec<f32>,
    #[serde(default)]
    pub input_text_token_count: u64,
}

/// The InvokeModel bodies for `request`, one per input, in order.
pub(crate) fn titan_requests(
    request: &EmbeddingsRequest,
) -> Result<Vec<TitanRequest<'_>>, ProviderError> {
    if !request.model.starts_with(TITAN_EMBED_PREFIX) {
        return Err(ProviderError::unsupported(
            "model",
            format!(
                "embeddings on Bedrock are served by Amazon Titan Text Embeddings \
                 ({TITAN_EMBED_PREFIX}-*), not `{}`",
                request.model
            ),
        ));
    }
    if let Some(key) = request.extra.keys().next() {
        return Err(ProviderError::unsupported(
            key,
            format!("`{key}` is not supported for Bedrock embeddings"),
        ));
    }
    let v2 = request.model.contains("-v2");
    if request.dimensions.is_some() && !v2 {
        return Err(ProviderError::unsupported(
            "dimensions",
            "only Titan Text Embeddings v2 takes `dimensions` (256, 512 or 1024)",
        ));
    }
    let texts: Vec<&str> = match &request.input {
        EmbeddingInput::Text(t) => vec![t.as_str()],
        EmbeddingInput::Texts(ts) => ts.iter().map(String::as_str).collect(),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => {
            return Err(ProviderError::unsupported(
                "input",
                "Titan embeds text, not token ids",
            ));
        }
    };
    Ok(texts
        .into_iter()
        .map(|input_text| TitanRequest {
            input_text,
            dimensions: request.dimensions,
            normalize: v2.then_some(true),
        })
        .collect())
}

pub(crate) fn titan_response(body: &[u8]) -> Result<TitanResponse, ProviderError> {
    serde_json::from_slice(body).map_err(|e| {
        ProviderError::new(
            ProviderErrorKind::InvalidResponse,
            format!("the Titan embeddings answer is not what Titan sends ({e})"),
        )
    })
}
