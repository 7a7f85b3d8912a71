//! Blobs as files under one folder: the self-hosted backend. A blob is written to a temporary
//! file beside its final name and renamed into place, so a reader never sees half a blob.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::{BlobError, BlobKey, BlobResult, BlobStore};

/// Temporary files end with this; [`BlobKey`] never does, since it refuses `~`.
const PARTIAL_SUFFIX: &str = "~partial";

pub struct LocalFolder {
    root: PathBuf,
}

impl LocalFolder {
    /// Blobs live under `root`, created on the first write.
    pub fn new(root: impl Into<PathBuf>) -> LocalFolder {
        LocalFolder { root: root.into() }
    }

    fn path_of(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }
}

fn backend(action: &str, path: &Path, err: std::io::Error) -> BlobError {
    BlobError::Backend(format!("{action} {}: {err}", path.display()))
}

#[async_trait]
impl BlobStore for LocalFolder {
    async fn put(&self, key: &BlobKey, body: Vec<u8>, _content_type: &str) -> BlobResult<()> {
        let path = self.path_of(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| backend("creating", parent, e))?;
        }
        let partial = PathBuf::from(format!("{}{PARTIAL_SUFFIX}", path.display()));
        tokio::fs::write(&partial, body)
            .await
            .map_err(|e| backend("writing", &partial, e))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| backend("renaming into", &path, e))
    }

    async fn get(&self, key: &BlobKey) -> BlobResult<Vec<u8>> {
        let path = self.path_of(key);
        match tokio::fs::read(&path).await {
            Ok(body) => Ok(body),
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::IsADirectory => {
                Err(BlobError::NotFound(key.to_string()))
            }
            Err(e) => Err(backend("reading", &path, e)),
        }
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobKey>> {
        let mut keys = Vec::new();
        let mut folders = vec![self.root.clone()];
        while let Some(folder) = folders.pop() {
            let mut entries = match tokio::fs::read_dir(&folder).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(backend("listing", &folder, e)),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| backend("listing", &folder, e))?
            {
                let path = entry.path();
                let kind = entry
                    .file_type()
                    .await
                    .map_err(|e| backend("reading", &path, e))?;
                if kind.is_dir() {
                    folders.push(path);
                    continue;
                }
                let relative = path
                    .strip_prefix(&self.root)
                    .ok()
                    .and_then(Path::to_str)
                    .map(|p| p.replace(std::path::MAIN_SEPARATOR, "/"));
                // Files that are not blob names (temporary files, strays) are not blobs.
                if let Some(key) = relative.and_then(|r| BlobKey::parse(&r).ok())
                    && key.is_under(prefix)
                {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}
