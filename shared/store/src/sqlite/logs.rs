//! `ReceiptStore` and `AuditLog` on SQLite: records as JSON, searched through indexed columns,
//! newest first with keyset pagination (`at`, then id, both descending).

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, params};

use crate::error::StoreResult;
use crate::model::audit::AuditEvent;
use crate::model::query::{AuditQuery, Cursor, Page, ReceiptQuery};
use crate::model::receipt::ReceiptRecord;
use crate::ports::{AuditLog, ReceiptStore};
use crate::sqlite::{SqliteStore, sqlite_error};
use crate::time::Timestamp;

/// A `WHERE` clause grown one condition at a time, with its positional arguments.
struct Filter {
    sql: String,
    args: Vec<Value>,
}

impl Filter {
    fn new(org_id: &str, now: Timestamp) -> Self {
        Filter {
            sql: "org_id = ?1 AND expires_at > ?2".to_owned(),
            args: vec![Value::Text(org_id.to_owned()), Value::Integer(now.millis())],
        }
    }

    fn and(&mut self, condition: &str, value: Value) {
        self.args.push(value);
        let n = self.args.len();
        self.sql.push_str(&format!(
            " AND {}",
            condition.replace('?', &format!("?{n}"))
        ));
    }

    fn and_text(&mut self, column: &str, value: Option<&String>) {
        if let Some(value) = value {
            self.and(&format!("{column} = ?"), Value::Text(value.clone()));
        }
    }

    fn time_range(&mut self, from: Option<Timestamp>, until: Option<Timestamp>) {
        if let Some(from) = from {
            self.and("at >= ?", Value::Integer(from.millis()));
        }
        if let Some(until) = until {
            self.and("at < ?", Value::Integer(until.millis()));
        }
    }

    /// Strictly after the cursor's position, in newest-first order.
    fn after(&mut self, cursor: Option<&Cursor>, id_column: &str) -> StoreResult<()> {
        if let Some(cursor) = cursor {
            let (at, id) = cursor.position()?;
            self.args.push(Value::Integer(at.millis()));
            self.args.push(Value::Text(id));
            let (a, i) = (self.args.len() - 1, self.args.len());
            self.sql.push_str(&format!(
                " AND (at < ?{a} OR (at = ?{a} AND {id_column} < ?{i}))"
            ));
        }
        Ok(())
    }
}

fn select_bodies(
    conn: &Connection,
    table: &str,
    id_column: &str,
    filter: Filter,
    limit: usize,
) -> StoreResult<Vec<String>> {
    let sql = format!(
        "SELECT body FROM {table} WHERE {} ORDER BY at DESC, {id_column} DESC LIMIT {}",
        filter.sql,
        limit + 1
    );
    let mut stmt = conn.prepare(&sql).map_err(sqlite_error)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(filter.args), |row| row.get(0))
        .map_err(sqlite_error)?;
    rows.map(|row| row.map_err(sqlite_error)).collect()
}

#[async_trait]
impl ReceiptStore for SqliteStore {
    async fn append_receipts(&self, records: Arc<[ReceiptRecord]>) -> StoreResult<()> {
        // Serialised on the blocking pool with the writes: a batch's bodies are CPU work that
        // would otherwise hold up an async worker and the requests waiting on it.
        self.call(move |conn| {
            let tx = conn.transaction().map_err(sqlite_error)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO receipts \
                         (request_id, org_id, at, model, provider, status, key_id, expires_at, body) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .map_err(sqlite_error)?;
                for r in records.iter() {
                    let body = serde_json::to_string(r)?;
                    stmt.execute(params![
                        r.request_id,
                        r.org_id,
                        r.at.millis(),
                        r.model,
                        r.provider,
                        r.status,
                        r.key_id,
                        r.expires_at.millis(),
                        body
                    ])
                    .map_err(sqlite_error)?;
                }
            }
            tx.commit().map_err(sqlite_error)
        })
        .await
    }

    async fn query_receipts(
        &self,
        query: &ReceiptQuery,
        now: Timestamp,
    ) -> StoreResult<Page<ReceiptRecord>> {
        let query = query.clone();
        self.call(move |conn| {
            let mut filter = Filter::new(&query.org_id, now);
            filter.time_range(query.from, query.until);
            filter.and_text("model", query.model.as_ref());
            filter.and_text("provider", query.provider.as_ref());
            filter.and_text("key_id", query.key_id.as_ref());
            filter.and_text("request_id", query.request_id.as_ref());
            if let Some(status) = query.status {
                filter.and("status = ?", Value::Integer(i64::from(status)));
            }
            filter.after(query.cursor.as_ref(), "request_id")?;
            let limit = query.page_size();
            let records = select_bodies(conn, "receipts", "request_id", filter, limit)?
                .iter()
                .map(|body| Ok(serde_json::from_str::<ReceiptRecord>(body)?))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Page::from_overfetch(
                records,
                limit,
                ReceiptQuery::position_of,
            ))
        })
        .await
    }

    async fn purge_expired_receipts(&self, now: Timestamp) -> StoreResult<u64> {
        self.call(move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM receipts WHERE expires_at <= ?1",
                    [now.millis()],
                )
                .map_err(sqlite_error)?;
            Ok(n as u64)
        })
        .await
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        let body = serde_json::to_string(event)?;
        let e = event.clone();
        self.call(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO audit_events (id, org_id, at, action, expires_at, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    e.id,
                    e.org_id,
                    e.at.millis(),
                    e.action,
                    e.expires_at.millis(),
                    body
                ],
            )
            .map_err(sqlite_error)?;
            Ok(())
        })
        .await
    }

    async fn query_audit(
        &self,
        query: &AuditQuery,
        now: Timestamp,
    ) -> StoreResult<Page<AuditEvent>> {
        let query = query.clone();
        self.call(move |conn| {
            let mut filter = Filter::new(&query.org_id, now);
            filter.time_range(query.from, query.until);
            filter.and_text("action", query.action.as_ref());
            filter.after(query.cursor.as_ref(), "id")?;
            let limit = query.page_size();
            let events = select_bodies(conn, "audit_events", "id", filter, limit)?
                .iter()
                .map(|body| Ok(serde_json::from_str::<AuditEvent>(body)?))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Page::from_overfetch(events, limit, AuditQuery::position_of))
        })
        .await
    }

    async fn purge_expired_audit(&self, now: Timestamp) -> StoreResult<u64> {
        self.call(move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM audit_events WHERE expires_at <= ?1",
                    [now.millis()],
                )
                .map_err(sqlite_error)?;
            Ok(n as u64)
        })
        .await
    }
}
