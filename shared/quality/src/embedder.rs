//! Prompt embeddings from a local sentence-transformers model (all-MiniLM-L6-v2 or any BERT
//! checkpoint laid out the same way), run on the CPU with candle.
//!
//! The model directory is given at run time and holds `config.json`, `tokenizer.json` and
//! `model.safetensors`; nothing is fetched from the network. An embedding is the mean of the
//! last hidden states over the prompt's tokens, L2-normalised, as sentence-transformers does
//! for this model, so cosine similarity is a dot product.
//!
//! The model code (candle, tokenizers) is the `embedder` feature, on by default and in the
//! `llm-gateway` command. The Lambda functions leave it out to stay small: there
//! [`Embedder::load`] answers [`EmbedderError::NotBuilt`], so a `[routing.predictor]` in their
//! configuration is refused at start-up rather than ignored.

use std::path::PathBuf;

#[cfg(not(feature = "embedder"))]
mod absent;
#[cfg(feature = "embedder")]
mod bert;

#[cfg(not(feature = "embedder"))]
pub use absent::Embedder;
#[cfg(feature = "embedder")]
pub use bert::Embedder;

/// Why a model directory could not be loaded or a prompt not embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedderError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a BERT configuration: {source}")]
    Config {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[cfg(feature = "embedder")]
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
    #[error(
        "this build has no prompt embedder (gateway-quality's `embedder` feature): the Lambda \
         functions are built without it; `llm-gateway serve` has it"
    )]
    NotBuilt,
}
