//! Counter changes that no request waits for (the actual cost replacing a spend reservation,
//! spend and requests added to the periods and the hour, a token estimate reconciled) reach
//! the store through one background writer, as a group commit: changes to the same window add
//! up in memory, and each store call writes every window changed since the last one, in one
//! transaction on SQLite. A busy gateway thus writes a handful of rows per batch where it would
//! write several per request, and a burst never queues store calls behind each other.
//!
//! Changes that only add to reports (spend of unlimited periods, hourly figures) wait up to
//! [`LINGER`] for others to join them; changes to a limit's window (a reservation replaced, a
//! token estimate corrected) are written at once, so a limit never holds more than the
//! request cost for longer than one store write. [`CounterWriter::flush`] writes everything
//! changed before it returns: Lambda calls it before an invocation ends, the server on
//! shutdown.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gateway_store::{Adjustment, Counters, Timestamp};
use tokio::sync::{Notify, oneshot};

use crate::runtime_thread;

/// How long a change that only adds to reports waits for others before it is written.
const LINGER: Duration = Duration::from_millis(20);

/// Whether a change may wait for others to join it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Only reports read it: it may wait up to [`LINGER`].
    Report,
    /// A limit reads it: written as soon as the store is free.
    Limit,
}

#[derive(Default)]
struct Pending {
    /// Per window, the sum of its changes and its latest expiry.
    changes: HashMap<(String, Timestamp), (i64, Timestamp)>,
    urgent: bool,
    flushes: Vec<oneshot::Sender<()>>,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands counter changes to the background writer; dropping it writes what is left and ends
/// the writer.
pub struct CounterWriter {
    shared: Arc<Shared>,
}

impl CounterWriter {
    /// Starts the writer on a thread of its own (see [`crate::runtime_thread`]).
    pub fn start(counters: Arc<dyn Counters>) -> std::io::Result<CounterWriter> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
        });
        runtime_thread::spawn("counter-writer", 1, write_changes(counters, shared.clone()))?;
        Ok(CounterWriter { shared })
    }

    /// Adds `delta` to the window `(key, window_start)`, living until `expires_at`, without
    /// waiting for the store.
    pub fn adjust(
        &self,
        key: String,
        window_start: Timestamp,
        delta: i64,
        expires_at: Timestamp,
        urgency: Urgency,
    ) {
        if delta == 0 {
            return;
        }
        let wake = {
            let mut pending = self.shared.lock();
            let was_idle = pending.changes.is_empty();
            match pending.changes.entry((key, window_start)) {
                Entry::Occupied(mut entry) => {
                    let (sum, expiry) = entry.get_mut();
                    *sum = sum.saturating_add(delta);
                    *expiry = (*expiry).max(expires_at);
                }
                Entry::Vacant(entry) => {
                    entry.insert((delta, expires_at));
                }
            }
            let newly_urgent = urgency == Urgency::Limit && !pending.urgent;
            pending.urgent |= urgency == Urgency::Limit;
            was_idle || newly_urgent
        };
        if wake {
            self.shared.wake.notify_one();
        }
    }

    /// Waits until every change made before this call is written (or its write failed).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        {
            let mut pending = self.shared.lock();
            pending.flushes.push(done);
            pending.urgent = true;
        }
        self.shared.wake.notify_one();
        let _ = written.await;
    }
}

impl Drop for CounterWriter {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

async fn write_changes(counters: Arc<dyn Counters>, shared: Arc<Shared>) {
    loop {
        shared.wake.notified().await;
        let urgent = {
            let pending = shared.lock();
            pending.urgent || pending.closed
        };
        if !urgent {
            // An urgent change or a flush arriving meanwhile cuts the wait short.
            let _ = tokio::time::timeout(LINGER, shared.wake.notified()).await;
        }
        let (changes, flushes, closed) = {
            let mut pending = shared.lock();
            pending.urgent = false;
            (
                std::mem::take(&mut pending.changes),
                std::mem::take(&mut pending.flushes),
                pending.closed,
            )
        };
        if !changes.is_empty() {
            let batch: Vec<Adjustment> = changes
                .into_iter()
                .filter(|(_, (delta, _))| *delta != 0)
                .map(|((key, window_start), (delta, expires_at))| Adjustment {
                    key,
                    window_start,
                    delta,
                    expires_at,
                })
                .collect();
            if let Err(error) = counters.adjust_many(&batch).await {
                tracing::error!(%error, windows = batch.len(), "writing counter changes failed; they are lost");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use gateway_store::sqlite::SqliteStore;

    use super::*;

    /// The window's count once it is `expected`, or as it stands after about a second.
    async fn count_within_a_second(
        store: &SqliteStore,
        key: &str,
        start: Timestamp,
        expected: u64,
    ) -> u64 {
        let mut seen = 0;
        for _ in 0..200 {
            seen = store.get(key, start).await.unwrap();
            if seen == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen
    }

    #[tokio::test]
    async fn changes_to_one_window_add_up_and_flush_writes_them_all() {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let writer = CounterWriter::start(store.clone()).unwrap();
        let start = Timestamp::now();
        let expires = start.plus_secs(600);
        for n in 0..500 {
            writer.adjust("spend:a".into(), start, 3, expires, Urgency::Report);
            if n % 2 == 0 {
                writer.adjust("spend:b".into(), start, -1, expires, Urgency::Limit);
                writer.adjust("spend:b".into(), start, 2, expires, Urgency::Limit);
            }
        }
        writer.flush().await;
        assert_eq!(store.get("spend:a", start).await.unwrap(), 1500);
        assert_eq!(store.get("spend:b", start).await.unwrap(), 250);
    }

    #[tokio::test]
    async fn a_change_for_a_limit_is_written_without_a_flush() {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let writer = CounterWriter::start(store.clone()).unwrap();
        let start = Timestamp::now();
        writer.adjust(
            "tpm:k".into(),
            start,
            7,
            start.plus_secs(60),
            Urgency::Limit,
        );
        assert_eq!(count_within_a_second(&store, "tpm:k", start, 7).await, 7);
    }

    #[tokio::test]
    async fn dropping_the_writer_writes_what_is_left() {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let writer = CounterWriter::start(store.clone()).unwrap();
        let start = Timestamp::now();
        writer.adjust(
            "req:h".into(),
            start,
            4,
            start.plus_secs(60),
            Urgency::Report,
        );
        drop(writer);
        assert_eq!(count_within_a_second(&store, "req:h", start, 4).await, 4);
    }
}
