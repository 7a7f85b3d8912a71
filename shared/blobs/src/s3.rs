//! Blobs as objects in one S3 bucket, under an optional key prefix: the AWS backend. S3's
//! `PutObject` is atomic per object, which gives the port's whole-blob guarantee; the bucket's
//! default encryption (KMS in the template) applies to every object.

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::{BlobError, BlobKey, BlobResult, BlobStore};

/// Where the bucket is. Fields left `None` come from the AWS default chain (in Lambda: the
/// function's role and region); tests set them all for a local endpoint.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    /// Prepended to every key, e.g. `reports/`; empty for none.
    pub prefix: String,
    /// A local endpoint (moto) instead of AWS; addressed path-style.
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    /// `(access key id, secret access key)`, for local endpoints.
    pub credentials: Option<(String, String)>,
}

pub struct S3Bucket {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Bucket {
    pub async fn connect(config: &S3Config) -> S3Bucket {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some((id, secret)) = &config.credentials {
            loader =
                loader.credentials_provider(Credentials::new(id, secret, None, None, "static"));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(url) = &config.endpoint_url {
            builder = builder.endpoint_url(url).force_path_style(true);
        }
        S3Bucket {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn object_key(&self, key: &BlobKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }
}

fn backend(action: &str, err: impl std::error::Error) -> BlobError {
    BlobError::Backend(format!("s3 {action}: {}", DisplayErrorContext(&err)))
}

#[async_trait]
impl BlobStore for S3Bucket {
    async fn put(&self, key: &BlobKey, body: Vec<u8>, content_type: &str) -> BlobResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| backend("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> BlobResult<Vec<u8>> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await;
        let object = match object {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(BlobError::NotFound(key.to_string()));
            }
            Err(e) => return Err(backend("GetObject", e)),
        };
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| backend("reading an object", e))?;
        Ok(body.into_bytes().to_vec())
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobKey>> {
        let folder = prefix.trim_end_matches('/');
        let listed_prefix = if folder.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}{folder}/", self.prefix)
        };
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(listed_prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| backend("ListObjectsV2", e))?;
            for object in page.contents() {
                // Objects someone else put in the bucket under names that are not blob names
                // are not blobs.
                if let Some(key) = object
                    .key()
                    .and_then(|k| k.strip_prefix(&self.prefix))
                    .and_then(|k| BlobKey::parse(k).ok())
                {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}
