//! The BERT sentence model on candle.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams};

use super::EmbedderError;

/// Tokens kept per prompt: the model was trained on sequences of at most 256 word pieces
/// (`max_seq_length` in its sentence-transformers configuration); the rest of a long prompt
/// is cut.
const MAX_TOKENS: usize = 256;

/// A loaded sentence-embedding model.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    fingerprint: String,
    dimensions: usize,
}

impl Embedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, EmbedderError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| EmbedderError::Read { path, source })
        };
        let config_bytes = read("config.json")?;
        let config: Config =
            serde_json::from_slice(&config_bytes).map_err(|source| EmbedderError::Config {
                path: dir.join("config.json"),
                source,
            })?;
        let tokenizer_bytes = read("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        let weights = read("model.safetensors")?;
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load_buffer(&weights, &device)?;
        let vb = VarBuilder::from_tensors(tensors, DTYPE, &device);
        let model = BertModel::load(vb, &config)?;

        let mut hash = Sha256::new();
        for part in [&config_bytes, &tokenizer_bytes, &weights] {
            hash.update(Sha256::digest(part));
        }
        hash.update(MAX_TOKENS.to_le_bytes());
        Ok(Self {
            model,
            tokenizer,
            fingerprint: hex::encode(hash.finalize()),
            dimensions: config.hidden_size,
        })
    }

    /// The embedding of one prompt: `dimensions()` numbers of unit length.
    pub fn embed(&self, prompt: &str) -> Result<Vec<f32>, EmbedderError> {
        let encoding = self
            .tokenizer
            .encode(prompt, true)
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        let ids = encoding.get_ids();
        let device = &self.model.device;
        let input_ids = Tensor::new(ids, device)?.unsqueeze(0)?;
        let token_type_ids = input_ids.zeros_like()?;
        // One prompt, no padding: every token counts, so the mean is over all positions.
        let hidden = self.model.forward(&input_ids, &token_type_ids, None)?;
        let mean = hidden.mean(1)?.squeeze(0)?.to_dtype(DType::F32)?;
        let norm = mean.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
        let mut values = mean.to_vec1::<f32>()?;
        if norm > 0.0 {
            for v in &mut values {
                *v /= norm;
            }
        }
        Ok(values)
    }

    /// Length of every embedding this model makes.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// SHA-256 over the model's files and the truncation length: two embedders with the
    /// same fingerprint give the same embeddings, so caches are keyed by it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}
