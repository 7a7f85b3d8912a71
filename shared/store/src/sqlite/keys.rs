//! `KeyStore` on SQLite: one row per key, the hash unique, rotation in one transaction.

use async_trait::async_trait;
use gateway_core::keys::GatewayKeyHash;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use crate::error::{StoreError, StoreResult};
use crate::model::api_key::{
    ApiKey, KeySettings, allowlist_from_text, allowlist_to_text, environment_label,
    parse_environment,
};
use crate::ports::{KeyStore, LAST_USED_RESOLUTION_MS};
use crate::sqlite::{SqliteStore, conflict_or_backend, from_sql_int, sqlite_error, to_sql_int};
use crate::time::Timestamp;

const COLUMNS: &str = "id, org_id, hash, name, environment, display_prefix, created_at, \
    expires_at, revoked_at, last_used_at, replaced_by, valid_until, rpm_limit, tpm_limit, ip_allowlist";

/// A row as SQLite gives it; turned into an [`ApiKey`] outside rusqlite's callback so that a
/// corrupt value is a `Corrupt` error, not a panic or a silent default.
struct KeyRow {
    id: String,
    org_id: String,
    hash: String,
    name: String,
    environment: String,
    display_prefix: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    replaced_by: Option<String>,
    valid_until: Option<i64>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    ip_allowlist: String,
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        id: row.get(0)?,
        org_id: row.get(1)?,
        hash: row.get(2)?,
        name: row.get(3)?,
        environment: row.get(4)?,
        display_prefix: row.get(5)?,
        created_at: row.get(6)?,
        expires_at: row.get(7)?,
        revoked_at: row.get(8)?,
        last_used_at: row.get(9)?,
        replaced_by: row.get(10)?,
        valid_until: row.get(11)?,
        rpm_limit: row.get(12)?,
        tpm_limit: row.get(13)?,
        ip_allowlist: row.get(14)?,
    })
}

fn key_from_row(row: KeyRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        hash: GatewayKeyHash::from_hex(&row.hash)
            .ok_or_else(|| StoreError::Corrupt(format!("key {} has a malformed hash", row.id)))?,
        environment: parse_environment(&row.environment)?,
        ip_allowlist: allowlist_from_text(&row.ip_allowlist)?,
        id: row.id,
        org_id: row.org_id,
        name: row.name,
        display_prefix: row.display_prefix,
        created_at: Timestamp(row.created_at),
        expires_at: row.expires_at.map(Timestamp),
        revoked_at: row.revoked_at.map(Timestamp),
        last_used_at: row.last_used_at.map(Timestamp),
        replaced_by: row.replaced_by,
        valid_until: row.valid_until.map(Timestamp),
        rpm_limit: row.rpm_limit.map(from_sql_int),
        tpm_limit: row.tpm_limit.map(from_sql_int),
    })
}

fn insert(tx: &Transaction<'_>, key: &ApiKey) -> StoreResult<()> {
    tx.execute(
        &format!("INSERT INTO api_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
        params![
            key.id,
            key.org_id,
            key.hash.to_hex(),
            key.name,
            environment_label(key.environment),
            key.display_prefix,
            key.created_at.millis(),
            key.expires_at.map(Timestamp::millis),
            key.revoked_at.map(Timestamp::millis),
            key.last_used_at.map(Timestamp::millis),
            key.replaced_by,
            key.valid_until.map(Timestamp::millis),
            key.rpm_limit.map(to_sql_int),
            key.tpm_limit.map(to_sql_int),
            allowlist_to_text(&key.ip_allowlist),
        ],
    )
    .map_err(|e| conflict_or_backend(e, &format!("key {} or its hash is already stored", key.id)))?;
    Ok(())
}

fn select_one(
    conn: &rusqlite::Connection,
    filter: &str,
    args: &[&str],
    what: String,
) -> StoreResult<ApiKey> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM api_keys WHERE {filter}"),
            rusqlite::params_from_iter(args),
            read_row,
        )
        .optional()
        .map_err(sqlite_error)?
        .ok_or(StoreError::NotFound(what))?;
    key_from_row(row)
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, key: &ApiKey) -> StoreResult<()> {
        key.validate()?;
        let key = key.clone();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(sqlite_error)?;
            insert(&tx, &key)?;
            tx.commit().map_err(sqlite_error)
        })
        .await
    }

    async fn find_key_by_hash(&self, hash: &GatewayKeyHash) -> StoreResult<ApiKey> {
        let hex = hash.to_hex();
        self.call(move |conn| {
            select_one(
                conn,
                "hash = ?1",
                &[&hex],
                "no key has this hash".to_owned(),
            )
        })
        .await
    }

    async fn get_key(&self, org_id: &str, key_id: &str) -> StoreResult<ApiKey> {
        let (org_id, key_id) = (org_id.to_owned(), key_id.to_owned());
        self.call(move |conn| {
            select_one(
                conn,
                "org_id = ?1 AND id = ?2",
                &[&org_id, &key_id],
                format!("key {key_id} of {org_id}"),
            )
        })
        .await
    }

    async fn list_keys(&self, org_id: &str) -> StoreResult<Vec<ApiKey>> {
        let org_id = org_id.to_owned();
        self.call(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM api_keys WHERE org_id = ?1 ORDER BY created_at, id"
                ))
                .map_err(sqlite_error)?;
            let rows = stmt.query_map([&org_id], read_row).map_err(sqlite_error)?;
            rows.map(|row| row.map_err(sqlite_error).and_then(key_from_row))
                .collect()
        })
        .await
    }

    async fn update_key_settings(
        &self,
        org_id: &str,
        key_id: &str,
        settings: &KeySettings,
    ) -> StoreResult<()> {
        let (org_id, key_id, k) = (org_id.to_owned(), key_id.to_owned(), settings.clone());
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE api_keys SET name = ?3, expires_at = ?4, rpm_limit = ?5, tpm_limit = ?6, \
                     ip_allowlist = ?7 WHERE org_id = ?1 AND id = ?2",
                    params![
                        org_id,
                        key_id,
                        k.name,
                        k.expires_at.map(Timestamp::millis),
                        k.rpm_limit.map(to_sql_int),
                        k.tpm_limit.map(to_sql_int),
                        allowlist_to_text(&k.ip_allowlist)
                    ],
                )
                .map_err(sqlite_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("key {key_id} of {org_id}")));
            }
            Ok(())
        })
        .await
    }

    async fn revoke_key(&self, org_id: &str, key_id: &str, at: Timestamp) -> StoreResult<()> {
        let (org_id, key_id) = (org_id.to_owned(), key_id.to_owned());
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?3) WHERE org_id = ?1 AND id = ?2",
                    params![org_id, key_id, at.millis()],
                )
                .map_err(sqlite_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("key {key_id} of {org_id}")));
            }
            Ok(())
        })
        .await
    }

    async fn rotate_key(
        &self,
        org_id: &str,
        old_key_id: &str,
        new_key: &ApiKey,
        old_valid_until: Timestamp,
    ) -> StoreResult<()> {
        new_key.validate()?;
        if new_key.org_id != org_id {
            return Err(StoreError::Invalid(
                "the new key belongs to another organisation".to_owned(),
            ));
        }
        let (org_id, old_id, new_key) = (org_id.to_owned(), old_key_id.to_owned(), new_key.clone());
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sqlite_error)?;
            let old = select_one(
                &tx,
                "org_id = ?1 AND id = ?2",
                &[&org_id, &old_id],
                format!("key {old_id} of {org_id}"),
            )?;
            if old.revoked_at.is_some() || old.replaced_by.is_some() {
                return Err(StoreError::Conflict(format!(
                    "key {old_id} is revoked or already rotated"
                )));
            }
            insert(&tx, &new_key)?;
            tx.execute(
                "UPDATE api_keys SET replaced_by = ?2, valid_until = ?3 WHERE id = ?1",
                params![old_id, new_key.id, old_valid_until.millis()],
            )
            .map_err(sqlite_error)?;
            tx.commit().map_err(sqlite_error)
        })
        .await
    }

    async fn touch_key(&self, key_id: &str, at: Timestamp) -> StoreResult<()> {
        let key_id = key_id.to_owned();
        self.call(move |conn| {
            conn.execute(
                "UPDATE api_keys SET last_used_at = ?2 \
                 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?3)",
                params![
                    key_id,
                    at.millis(),
                    at.millis().saturating_sub(LAST_USED_RESOLUTION_MS)
                ],
            )
            .map_err(sqlite_error)?;
            Ok(())
        })
        .await
    }
}
