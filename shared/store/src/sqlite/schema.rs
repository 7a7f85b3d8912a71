//! The schema and its migrations. `PRAGMA user_version` records how many migrations a file has
//! had; opening a file applies the rest, each in its own transaction. Migrations are only ever
//! appended.
//!
//! Records that are read whole (organisations, receipts, audit events) keep a JSON `body` and
//! copy into columns only what is searched, sorted or constrained; API keys are updated field by
//! field (revoke, rotate, last use), so they have a column each.

use rusqlite::Connection;

use crate::error::StoreResult;
use crate::sqlite::sqlite_error;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE orgs (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE members (
    org_id   TEXT NOT NULL REFERENCES orgs(id),
    user_id  TEXT NOT NULL,
    email    TEXT NOT NULL,
    role     TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    hash           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    environment    TEXT NOT NULL,
    display_prefix TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    revoked_at     INTEGER,
    last_used_at   INTEGER,
    replaced_by    TEXT,
    valid_until    INTEGER,
    rpm_limit      INTEGER,
    tpm_limit      INTEGER,
    ip_allowlist   TEXT NOT NULL
);
CREATE INDEX api_keys_by_org ON api_keys (org_id, created_at, id);
CREATE TABLE counters (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) WITHOUT ROWID;
CREATE INDEX counters_by_expiry ON counters (expires_at);
CREATE TABLE receipts (
    request_id TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    model      TEXT NOT NULL,
    provider   TEXT NOT NULL,
    status     INTEGER NOT NULL,
    key_id     TEXT,
    expires_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX receipts_by_time ON receipts (org_id, at DESC, request_id DESC);
CREATE INDEX receipts_by_expiry ON receipts (expires_at);
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    action     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit_events (org_id, at DESC, id DESC);
CREATE INDEX audit_by_expiry ON audit_events (expires_at);
"#,
    r#"
CREATE TABLE admin_tokens (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    hash           TEXT NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);
CREATE INDEX admin_tokens_by_member ON admin_tokens (org_id, user_id, created_at, id);
"#,
    r#"
CREATE TABLE breakers (
    model     TEXT PRIMARY KEY,
    version   INTEGER NOT NULL,
    opened_at INTEGER,
    half_open INTEGER NOT NULL,
    probes    INTEGER NOT NULL,
    probed_at INTEGER
) WITHOUT ROWID;
"#,
];

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite_error)?;
    let applied = usize::try_from(applied).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(sqlite_error)?;
        tx.execute_batch(sql).map_err(sqlite_error)?;
        tx.pragma_update(None, "user_version", index + 1)
            .map_err(sqlite_error)?;
        tx.commit().map_err(sqlite_error)?;
    }
    Ok(())
}
