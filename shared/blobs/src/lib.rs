//! Blobs (recommendation reports, exports, archives) behind one port, [`BlobStore`], with a
//! backend per column of the design: [`local::LocalFolder`] for a self-hosted gateway and
//! `s3::S3Bucket` (feature `s3`) in AWS. Both pass the contract suite in `tests/`.
//!
//! - [`key`]: [`BlobKey`], a name that is safe as a relative path and as an S3 object key.
//! - [`local`], `s3`: the backends.

pub mod key;
pub mod local;
#[cfg(feature = "s3")]
pub mod s3;

use async_trait::async_trait;

pub use key::{BlobKey, InvalidBlobKey};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no blob named {0}")]
    NotFound(String),
    #[error("blob storage failed: {0}")]
    Backend(String),
}

pub type BlobResult<T> = Result<T, BlobError>;

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `body` under `key`, replacing any blob of that name. A reader sees the old blob
    /// or the new one, never part of one.
    async fn put(&self, key: &BlobKey, body: Vec<u8>, content_type: &str) -> BlobResult<()>;
    /// `NotFound` when nothing is stored under `key`.
    async fn get(&self, key: &BlobKey) -> BlobResult<Vec<u8>>;
    /// The keys under the folder `prefix` (a key's leading segments; empty for all), in
    /// byte order.
    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobKey>>;
}
