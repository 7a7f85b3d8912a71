//! The embedded backend: one SQLite file (or memory, for tests) behind every port.
//!
//! rusqlite is blocking, so each call runs on Tokio's blocking pool and takes the one
//! connection in turn; the async runtime never waits on disk. The exception is the request
//! path's counters, run on the async worker when the connection is free ([`inline`]). The file
//! is in WAL mode, so other processes (the CLI, a second gateway) can read while one writes,
//! and every read-then-write step (counters, rotation, breakers) runs in an `IMMEDIATE`
//! transaction, which holds across processes.

mod admin_tokens;
mod breakers;
mod counters;
mod inline;
mod keys;
mod logs;
mod orgs;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use crate::error::{StoreError, StoreResult};

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every port on one SQLite database. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let path = path.to_owned();
        let conn = tokio::task::spawn_blocking(move || -> StoreResult<Connection> {
            let conn = Connection::open(&path)
                .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(sqlite_error)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Backend(format!(
                    "{} does not support WAL (journal mode {mode})",
                    path.display()
                )));
            }
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(sqlite_error)?;
            Ok(conn)
        })
        .await
        .map_err(join_error)??;
        Self::prepare(conn).await
    }

    /// A private database in memory, gone when the last clone is dropped.
    pub async fn in_memory() -> StoreResult<Self> {
        let conn = Connection::open_in_memory().map_err(sqlite_error)?;
        Self::prepare(conn).await
    }

    async fn prepare(conn: Connection) -> StoreResult<Self> {
        let store = SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        };
        store
            .call(|conn| {
                inline::install(conn).map_err(sqlite_error)?;
                conn.pragma_update(None, "foreign_keys", "ON")
                    .map_err(sqlite_error)?;
                schema::migrate(conn)
            })
            .await?;
        Ok(store)
    }

    /// Runs `f` with the connection on this async worker when the connection is free and no
    /// other process holds the database, else on the blocking pool. For short statements only.
    async fn call_inline<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let done = match self.conn.try_lock() {
            Ok(mut conn) => inline::on_worker(|| f(&mut conn)),
            Err(TryLockError::Poisoned(poisoned)) => {
                let mut conn = poisoned.into_inner();
                inline::on_worker(|| f(&mut conn))
            }
            Err(TryLockError::WouldBlock) => None,
        };
        match done {
            Some(outcome) => outcome,
            None => self.call(f).await,
        }
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-done write behind (every
            // multi-statement write is a transaction), so the connection is still sound.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(join_error)?
    }
}

fn join_error(err: tokio::task::JoinError) -> StoreError {
    StoreError::Backend(format!("sqlite task failed: {err}"))
}

fn sqlite_error(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {err}"))
}

/// A constraint failure becomes `Conflict` naming `what`; anything else a backend error.
fn conflict_or_backend(err: rusqlite::Error, what: &str) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(what.to_owned()),
        _ => sqlite_error(err),
    }
}

/// Unsigned counts and limits as SQLite's signed integers.
fn to_sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
