//! Opening the store `[store]` names: an SQLite file (by default `gateway.db` in the data
//! directory) or a DynamoDB table.
//!
//! The data directory is `--data-dir`, else `LLM_GATEWAY_DATA_DIR`, else
//! `$XDG_DATA_HOME/llm-gateway`, else `~/.local/share/llm-gateway`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use gateway_core::config::{self, EnvSource, StoreBackend, StoreConfig};
use gateway_store::Store;
use gateway_store::sqlite::SqliteStore;
use secrecy::ExposeSecret;

/// The default data directory, from the environment.
pub fn default_data_dir(env: &dyn EnvSource) -> PathBuf {
    if let Some(dir) = env.var("LLM_GATEWAY_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = env.var("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Path::new(&dir).join("llm-gateway");
    }
    let home = env.var("HOME").unwrap_or_else(|| ".".to_owned());
    Path::new(&home).join(".local/share/llm-gateway")
}

pub async fn open(
    config: &StoreConfig,
    data_dir: &Path,
    env: &dyn EnvSource,
) -> anyhow::Result<Arc<dyn Store>> {
    match config.backend {
        StoreBackend::Sqlite => {
            let path = match &config.path {
                Some(path) => path.clone(),
                None => {
                    std::fs::create_dir_all(data_dir).with_context(|| {
                        format!("creating the data directory {}", data_dir.display())
                    })?;
                    data_dir.join("gateway.db")
                }
            };
            let store = SqliteStore::open(&path)
                .await
                .with_context(|| format!("opening the store {}", path.display()))?;
            Ok(Arc::new(store))
        }
        StoreBackend::Dynamodb => {
            let dynamo = &config.dynamodb;
            let table = dynamo
                .table
                .clone()
                .context("[store.dynamodb] table is required with backend = \"dynamodb\"")?;
            let credentials = match (&dynamo.access_key_id, &dynamo.secret_access_key) {
                (Some(id), Some(secret)) => Some(gateway_store::dynamodb::StaticCredentials {
                    access_key_id: config::resolve_secret(id, env, "store.dynamodb.access_key_id")?
                        .expose_secret()
                        .to_owned(),
                    secret_access_key: config::resolve_secret(
                        secret,
                        env,
                        "store.dynamodb.secret_access_key",
                    )?
                    .expose_secret()
                    .to_owned(),
                }),
                (None, None) => None,
                _ => anyhow::bail!(
                    "[store.dynamodb] needs both access_key_id and secret_access_key, or neither"
                ),
            };
            let settings = gateway_store::dynamodb::DynamoConfig {
                table: table.clone(),
                endpoint_url: dynamo.endpoint_url.clone(),
                region: dynamo.region.clone(),
                credentials,
            };
            let store = gateway_store::dynamodb::DynamoStore::connect(&settings)
                .await
                .context("connecting to DynamoDB")?;
            if dynamo.create_table {
                gateway_store::dynamodb::create_table(store.client(), &table)
                    .await
                    .map_err(|e| anyhow::anyhow!("creating the table {table}: {e}"))?;
            }
            Ok(Arc::new(store))
        }
    }
}
