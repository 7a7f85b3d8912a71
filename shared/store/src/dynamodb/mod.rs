//! The AWS backend: every port on one DynamoDB table.
//!
//! # Table design
//!
//! One table, string keys `pk` (partition) and `sk` (sort), one global secondary index `gsi1`
//! on `gsi1pk` / `gsi1sk` (all attributes projected), on-demand billing, and DynamoDB TTL on
//! the `ttl` attribute (epoch seconds). Every item has a `kind`. Times are epoch milliseconds;
//! in sort keys they are written as 20 zero-padded digits offset from `i64::MIN`
//! ([`attrs::sort_time`]), so that text order is time order.
//!
//! | item | `pk` | `sk` | `gsi1pk` / `gsi1sk` | other attributes |
//! |---|---|---|---|---|
//! | organisation | `ORG#<org>` | `#ORG` | | `name`, `body` (JSON) |
//! | name guard | `ORGNAME#<name>` | `#ORGNAME` | | `org_id` |
//! | member | `ORG#<org>` | `MEMBER#<user>` | | `user_id`, `email`, `role`, `added_at` |
//! | API key | `KEY#<key>` | `#KEY` | `ORG#<org>#KEYS` / `<created>#<key>` | one attribute per field |
//! | hash guard | `KEYHASH#<sha256 hex>` | `#KEYHASH` | | `key_id` |
//! | admin token | `ORG#<org>` | `ADMINTOKEN#<user>#<token>` | | `user_id`, `hash`, `display_prefix`, `created_at`, `revoked_at` |
//! | admin token hash guard | `ADMINHASH#<sha256 hex>` | `#ADMINHASH` | | `org_id`, `user_id`, `token_id` |
//! | counter window | `CTR#<counter key>` | `<window start ms>` | | `count`, `expires_at`, `ttl` |
//! | circuit breaker | `BREAKERS` | `<provider/model>` | | `version`, `opened_at`, `half_open`, `probes`, `probed_at` |
//! | receipt | `ORG#<org>#RCPT` | `<at>#<request id>` | `ORG#<org>#KEY#<key>#RCPT` / same as `sk` | `model`, `provider`, `status`, `key_id`, `request_id`, `expires_at`, `ttl`, `body` |
//! | audit event | `ORG#<org>#AUDIT` | `<at>#<event id>` | | `action`, `expires_at`, `ttl`, `body` |
//!
//! Uniqueness is enforced by guard items written in the same transaction as the record, each
//! with `attribute_not_exists(pk)`: organisation names, key hashes and admin token hashes (an index cannot refuse a
//! duplicate). Finding a key by hash reads the guard, then the key, both strongly consistent,
//! so a key works the moment it is created. Rotation is one `TransactWriteItems`: new key, its
//! guard, and the old key's `replaced_by`/`valid_until` on condition that it is neither revoked
//! nor rotated.
//!
//! Counters are one `UpdateItem` with `ADD count :n` and the condition
//! `attribute_not_exists(count) OR count <= :limit_minus_n`: DynamoDB applies it atomically, so
//! any number of gateway processes sharing the table never admit more than the limit.
//!
//! Breakers share one partition (a few hundred items at most), read whole by each gateway
//! process every `routing.breaker.refresh_ms`; each is replaced by a `PutItem` conditioned on the
//! `version` the writer read, so concurrent transitions of one breaker never overwrite each other.
//!
//! Request logs are read newest first (`ScanIndexForward = false`) from the organisation's
//! receipt partition, or from `gsi1` when the search names a key; the time range and the cursor
//! become the sort-key condition, the other filters a `FilterExpression`. DynamoDB deletes
//! expired items up to a few days late, so every read also filters `expires_at > now`, and the
//! `purge_expired_*` calls delete expired items at once (a scan, for schedules and tests).
//!
//! Known limits: the key list reads `gsi1`, which is eventually consistent (a key created a
//! moment ago may be missing from a listing, never from a lookup); all receipts of an
//! organisation share one partition, which holds about 1,000 writes a second.

mod admin_tokens;
mod attrs;
mod breakers;
mod counters;
mod keys;
mod logs;
mod orgs;
mod table;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};

use crate::error::StoreResult;

pub use table::create_table;

/// Where the table is and how to reach it. Fields left `None` come from the AWS default chain
/// (environment, profile, instance role); tests set them all, so nothing is read from the
/// process environment that they would need to change.
#[derive(Debug, Clone, Default)]
pub struct DynamoConfig {
    pub table: String,
    /// A local endpoint (moto, DynamoDB Local) instead of AWS.
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub credentials: Option<StaticCredentials>,
}

/// Fixed credentials, for local endpoints.
#[derive(Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Every port on one DynamoDB table. Cheap to clone: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on `config.table`; does not create the table (see [`create_table`]).
    pub async fn connect(config: &DynamoConfig) -> StoreResult<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if let Some(creds) = &config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.clone(),
                None,
                None,
                "llm-gateway-static",
            ));
        }
        let sdk_config = loader.load().await;
        Ok(DynamoStore::with_client(
            Client::new(&sdk_config),
            &config.table,
        ))
    }

    /// A store on `table` using a client built elsewhere (shared with other AWS services).
    pub fn with_client(client: Client, table: &str) -> Self {
        DynamoStore {
            client,
            table: table.to_owned(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
