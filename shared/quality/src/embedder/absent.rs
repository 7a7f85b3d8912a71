//! The embedder of a build without the model code: it cannot be loaded.

use std::convert::Infallible;
use std::path::Path;

use super::EmbedderError;

/// Never constructed: [`Embedder::load`] always fails in this build.
pub struct Embedder {
    never: Infallible,
}

impl Embedder {
    pub fn load(_dir: &Path) -> Result<Self, EmbedderError> {
        Err(EmbedderError::NotBuilt)
    }

    pub fn embed(&self, _prompt: &str) -> Result<Vec<f32>, EmbedderError> {
        match self.never {}
    }

    pub fn dimensions(&self) -> usize {
        match self.never {}
    }

    pub fn fingerprint(&self) -> &str {
        match self.never {}
    }
}
