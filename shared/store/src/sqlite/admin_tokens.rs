//! `AdminTokenStore` on SQLite: one row per token, the hash unique.

use async_trait::async_trait;
use gateway_core::keys::GatewayKeyHash;
use rusqlite::{OptionalExtension, params};

use crate::error::{StoreError, StoreResult};
use crate::model::admin_token::AdminToken;
use crate::ports::AdminTokenStore;
use crate::sqlite::{SqliteStore, conflict_or_backend, sqlite_error};
use crate::time::Timestamp;

const COLUMNS: &str = "id, org_id, user_id, hash, display_prefix, created_at, revoked_at";

type TokenRow = (String, String, String, String, String, i64, Option<i64>);

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn token_from_row(
    (id, org_id, user_id, hash, display_prefix, created_at, revoked_at): TokenRow,
) -> StoreResult<AdminToken> {
    Ok(AdminToken {
        hash: GatewayKeyHash::from_hex(&hash)
            .ok_or_else(|| StoreError::Corrupt(format!("admin token {id} has a malformed hash")))?,
        id,
        org_id,
        user_id,
        display_prefix,
        created_at: Timestamp(created_at),
        revoked_at: revoked_at.map(Timestamp),
    })
}

#[async_trait]
impl AdminTokenStore for SqliteStore {
    async fn insert_admin_token(&self, token: &AdminToken) -> StoreResult<()> {
        let t = token.clone();
        self.call(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO admin_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    t.id,
                    t.org_id,
                    t.user_id,
                    t.hash.to_hex(),
                    t.display_prefix,
                    t.created_at.millis(),
                    t.revoked_at.map(Timestamp::millis)
                ],
            )
            .map_err(|e| {
                conflict_or_backend(e, &format!("admin token {} or its hash exists", t.id))
            })?;
            Ok(())
        })
        .await
    }

    async fn find_admin_token_by_hash(&self, hash: &GatewayKeyHash) -> StoreResult<AdminToken> {
        let hex = hash.to_hex();
        self.call(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {COLUMNS} FROM admin_tokens WHERE hash = ?1"),
                    [&hex],
                    read_row,
                )
                .optional()
                .map_err(sqlite_error)?
                .ok_or_else(|| StoreError::NotFound("admin token".to_owned()))?;
            token_from_row(row)
        })
        .await
    }

    async fn list_admin_tokens(&self, org_id: &str, user_id: &str) -> StoreResult<Vec<AdminToken>> {
        let (org_id, user_id) = (org_id.to_owned(), user_id.to_owned());
        self.call(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM admin_tokens WHERE org_id = ?1 AND user_id = ?2 \
                     ORDER BY created_at, id"
                ))
                .map_err(sqlite_error)?;
            let rows = stmt
                .query_map([&org_id, &user_id], read_row)
                .map_err(sqlite_error)?;
            rows.map(|row| row.map_err(sqlite_error).and_then(token_from_row))
                .collect()
        })
        .await
    }

    async fn revoke_admin_token(
        &self,
        org_id: &str,
        user_id: &str,
        token_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (org_id, user_id, token_id) =
            (org_id.to_owned(), user_id.to_owned(), token_id.to_owned());
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, ?4) \
                     WHERE org_id = ?1 AND user_id = ?2 AND id = ?3",
                    params![org_id, user_id, token_id, at.millis()],
                )
                .map_err(sqlite_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!(
                    "admin token {token_id} of {user_id}"
                )));
            }
            Ok(())
        })
        .await
    }
}
