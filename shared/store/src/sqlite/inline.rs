//! The request path's short statements (rate-limit and spend counters) run on the async worker
//! that asks for them when the connection is free: they take a few tens of microseconds of
//! SQLite work, less than a trip to the blocking pool and back (two thread wake-ups). What
//! could make such a statement slow is kept off the worker:
//! - another process holding the database's write lock: on a worker the busy handler gives up
//!   at once, and the statement runs again on the blocking pool, which waits as usual;
//! - a WAL checkpoint (the log copied into the database, with fsyncs): a commit made on a
//!   worker leaves it to the next commit made on the blocking pool; the background writers of
//!   receipts and counters make one every 10 to 20 ms while there is traffic.

use std::cell::Cell;
use std::ffi::c_int;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::hooks::Wal;

use super::BUSY_TIMEOUT;

thread_local! {
    /// Set while a statement runs on an async worker.
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
    /// Set when the busy handler gave up on a worker.
    static GAVE_UP: Cell<bool> = const { Cell::new(false) };
}

/// Log pages after which a commit checkpoints (SQLite's default).
const CHECKPOINT_PAGES: c_int = 1000;

/// Replaces SQLite's busy timeout and automatic checkpoint with the two that know about
/// workers.
pub(super) fn install(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(wait_while_locked))?;
    conn.wal_hook(Some(checkpoint_off_workers));
    Ok(())
}

/// Runs `statement` on this async worker; `None` if the database was locked by another process,
/// so nothing was done and the statement should run on the blocking pool.
pub(super) fn on_worker<T>(statement: impl FnOnce() -> T) -> Option<T> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_WORKER.set(false);
        }
    }
    ON_WORKER.set(true);
    GAVE_UP.set(false);
    let reset = Reset;
    let outcome = statement();
    drop(reset);
    (!GAVE_UP.replace(false)).then_some(outcome)
}

/// SQLite's own waiting schedule, up to [`BUSY_TIMEOUT`]; on a worker, no wait.
fn wait_while_locked(attempt: i32) -> bool {
    const DELAYS_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];
    if ON_WORKER.get() {
        GAVE_UP.set(true);
        return false;
    }
    let attempt = usize::try_from(attempt).unwrap_or(0);
    let past: u64 = (0..attempt)
        .map(|i| DELAYS_MS.get(i).copied().unwrap_or(100))
        .sum();
    let limit = u64::try_from(BUSY_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    let Some(left) = limit.checked_sub(past).filter(|&left| left > 0) else {
        return false;
    };
    let delay = DELAYS_MS.get(attempt).copied().unwrap_or(100).min(left);
    std::thread::sleep(Duration::from_millis(delay));
    true
}

fn checkpoint_off_workers(wal: &Wal, pages: c_int) -> rusqlite::Result<()> {
    if pages >= CHECKPOINT_PAGES && !ON_WORKER.get() {
        // As SQLite's automatic checkpoint: a failure leaves the log to the next commit, and
        // the commit that triggered it stands.
        let _ = wal.checkpoint();
    }
    Ok(())
}
