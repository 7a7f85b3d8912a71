//! `Counters` on SQLite: read and write a window inside one `IMMEDIATE` transaction, which takes
//! the database's write lock first, so two processes can never both admit the last slot.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreResult;
use crate::ports::{Adjustment, Admission, Ask, Counters};
use crate::sqlite::{SqliteStore, from_sql_int, sqlite_error, to_sql_int};
use crate::time::Timestamp;

/// The live count of a window (an expired window counts as empty).
fn current(conn: &Connection, key: &str, window: i64, now: i64) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count FROM counters WHERE key = ?1 AND window_start = ?2 AND expires_at > ?3",
        )
        .map_err(sqlite_error)?
        .query_row(params![key, window, now], |row| row.get(0))
        .optional()
        .map_err(sqlite_error)?
        .unwrap_or(0))
}

fn store(
    conn: &Connection,
    key: &str,
    window: i64,
    count: i64,
    expires_at: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO counters (key, window_start, count, expires_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (key, window_start) DO UPDATE SET count = excluded.count, expires_at = excluded.expires_at",
    )
    .map_err(sqlite_error)?
    .execute(params![key, window, count, expires_at])
    .map_err(sqlite_error)?;
    Ok(())
}

#[async_trait]
impl Counters for SqliteStore {
    async fn add(
        &self,
        key: &str,
        window_start: Timestamp,
        amount: u64,
        limit: u64,
        expires_at: Timestamp,
    ) -> StoreResult<Admission> {
        let key = key.to_owned();
        let now = Timestamp::now().millis();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sqlite_error)?;
            let count = current(&tx, &key, window_start.millis(), now)?;
            let wanted = count.saturating_add(to_sql_int(amount));
            if wanted > to_sql_int(limit) {
                return Ok(Admission {
                    admitted: false,
                    count: from_sql_int(count),
                });
            }
            store(
                &tx,
                &key,
                window_start.millis(),
                wanted,
                expires_at.millis(),
            )?;
            tx.commit().map_err(sqlite_error)?;
            Ok(Admission {
                admitted: true,
                count: from_sql_int(wanted),
            })
        })
        .await
    }

    async fn adjust(
        &self,
        key: &str,
        window_start: Timestamp,
        delta: i64,
        expires_at: Timestamp,
    ) -> StoreResult<u64> {
        let key = key.to_owned();
        let now = Timestamp::now().millis();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sqlite_error)?;
            let count = current(&tx, &key, window_start.millis(), now)?
                .saturating_add(delta)
                .max(0);
            store(&tx, &key, window_start.millis(), count, expires_at.millis())?;
            tx.commit().map_err(sqlite_error)?;
            Ok(from_sql_int(count))
        })
        .await
    }

    async fn add_all(&self, asks: &[Ask]) -> StoreResult<Vec<Admission>> {
        let asks = asks.to_vec();
        let now = Timestamp::now().millis();
        self.call_inline(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sqlite_error)?;
            let mut counts = Vec::with_capacity(asks.len());
            for ask in &asks {
                let count = current(&tx, &ask.key, ask.window_start.millis(), now)?;
                let wanted = count.saturating_add(to_sql_int(ask.amount));
                counts.push((count, wanted, wanted <= to_sql_int(ask.limit)));
            }
            if !counts.iter().all(|&(_, _, fits)| fits) {
                return Ok(counts
                    .into_iter()
                    .map(|(count, _, fits)| Admission {
                        admitted: fits,
                        count: from_sql_int(count),
                    })
                    .collect());
            }
            for (ask, &(_, wanted, _)) in asks.iter().zip(&counts) {
                store(
                    &tx,
                    &ask.key,
                    ask.window_start.millis(),
                    wanted,
                    ask.expires_at.millis(),
                )?;
            }
            tx.commit().map_err(sqlite_error)?;
            Ok(counts
                .into_iter()
                .map(|(_, wanted, _)| Admission {
                    admitted: true,
                    count: from_sql_int(wanted),
                })
                .collect())
        })
        .await
    }

    async fn adjust_many(&self, adjustments: &[Adjustment]) -> StoreResult<()> {
        if adjustments.is_empty() {
            return Ok(());
        }
        let adjustments = adjustments.to_vec();
        let now = Timestamp::now().millis();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sqlite_error)?;
            for a in &adjustments {
                let start = a.window_start.millis();
                let count = current(&tx, &a.key, start, now)?
                    .saturating_add(a.delta)
                    .max(0);
                store(&tx, &a.key, start, count, a.expires_at.millis())?;
            }
            tx.commit().map_err(sqlite_error)
        })
        .await
    }

    async fn get(&self, key: &str, window_start: Timestamp) -> StoreResult<u64> {
        let key = key.to_owned();
        let now = Timestamp::now().millis();
        self.call(move |conn| {
            Ok(from_sql_int(current(
                conn,
                &key,
                window_start.millis(),
                now,
            )?))
        })
        .await
    }

    async fn get_many(&self, windows: &[(String, Timestamp)]) -> StoreResult<Vec<u64>> {
        let windows = windows.to_vec();
        let now = Timestamp::now().millis();
        self.call_inline(move |conn| {
            windows
                .iter()
                .map(|(key, start)| Ok(from_sql_int(current(conn, key, start.millis(), now)?)))
                .collect()
        })
        .await
    }

    async fn purge_expired_counters(&self, now: Timestamp) -> StoreResult<u64> {
        self.call(move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM counters WHERE expires_at <= ?1",
                    [now.millis()],
                )
                .map_err(sqlite_error)?;
            Ok(n as u64)
        })
        .await
    }
}
