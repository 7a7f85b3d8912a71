//! Embeddings of a whole dataset, computed on every core and kept on disk.
//!
//! Embedding ~15k prompts takes minutes on a small CPU, so the result is stored as one file
//! of little-endian `f32`s named by SHA-256 over the embedder's fingerprint and every prompt:
//! any change to the model or the data is a different file, and a rerun reads it in a moment.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::embedder::{Embedder, EmbedderError};

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Embed(#[from] EmbedderError),
    #[error("an embedding thread panicked")]
    ThreadPanicked,
    #[error("embedding cache {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the embeddings came from, for reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Computed,
    Cache,
}

/// Embeds every prompt, reading and filling `cache_dir` when one is given.
pub fn embed_all(
    embedder: &Embedder,
    prompts: &[&str],
    cache_dir: Option<&Path>,
) -> Result<(Vec<Vec<f32>>, Source), CacheError> {
    let dims = embedder.dimensions();
    let file = cache_dir.map(|dir| {
        dir.join(format!(
            "{}.f32le",
            cache_key(embedder.fingerprint(), prompts)
        ))
    });
    if let Some(path) = &file
        && let Ok(bytes) = std::fs::read(path)
        && bytes.len() == prompts.len() * dims * 4
    {
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        return Ok((
            values.chunks(dims.max(1)).map(<[f32]>::to_vec).collect(),
            Source::Cache,
        ));
    }
    let embeddings = embed_in_parallel(embedder, prompts)?;
    if let (Some(path), Some(dir)) = (&file, cache_dir) {
        let io = |source| CacheError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let bytes: Vec<u8> = embeddings
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        // Written aside and renamed: a concurrent or interrupted run never reads half a file.
        let partial = path.with_extension(format!("partial.{}", std::process::id()));
        std::fs::write(&partial, bytes).map_err(io)?;
        std::fs::rename(&partial, path).map_err(io)?;
    }
    Ok((embeddings, Source::Computed))
}

fn cache_key(fingerprint: &str, prompts: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(fingerprint.as_bytes());
    for prompt in prompts {
        hash.update((prompt.len() as u64).to_le_bytes());
        hash.update(prompt.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// One prompt at a time per thread (no padding waste), one thread per core. Each thread takes
/// the next prompt when it finishes one, so a run of long prompts (a subject of long passages)
/// does not leave one core working alone at the end.
fn embed_in_parallel(embedder: &Embedder, prompts: &[&str]) -> Result<Vec<Vec<f32>>, CacheError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(prompt) = prompts.get(index) else {
                break;
            };
            match embedder.embed(prompt) {
                Ok(embedding) => done.push((index, embedding)),
                Err(error) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(error);
                }
            }
        }
        Ok(done)
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        let mut all = vec![Vec::new(); prompts.len()];
        for handle in handles {
            let done = handle.join().map_err(|_| CacheError::ThreadPanicked)??;
            for (index, embedding) in done {
                all[index] = embedding;
            }
        }
        Ok(all)
    })
}
