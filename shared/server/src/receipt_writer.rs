//! Receipts reach the request log through a background writer, so no client waits on a store
//! write: the request path adds a record to a bounded queue and moves on; one writer takes
//! them in batches, waiting up to [`LINGER`] after a batch's first record for others to join
//! it, so a busy gateway writes one batch where it would write hundreds of single rows. Only a
//! batch's first record, a full batch and a flush wake the writer, not every record. When the
//! queue is full (the store is down or slow) records are dropped, counted and logged rather
//! than slowing requests. [`ReceiptWriter::flush`] writes everything queued before it returns,
//! which the server calls on clean shutdown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use gateway_core::receipt::Receipt;
use gateway_store::ReceiptStore;
use gateway_store::model::receipt::{ReceiptDetails, ReceiptRecord};
use tokio::sync::{Notify, oneshot};

use crate::runtime_thread;

/// Records waiting to be written, at most.
const QUEUE: usize = 10_000;
/// Records written in one store call, at most.
const BATCH: usize = 100;
/// How long a batch waits for more records before it is written. Short enough that a batch
/// holds SQLite's one connection for a few hundred microseconds, not milliseconds, when a store
/// key's counters want it (their p99 at concurrency 1 was 0.5 to 2.7 ms higher with 50 ms);
/// at saturation batches fill to [`BATCH`] first anyway.
const LINGER: Duration = Duration::from_millis(10);
/// Attempts per batch before its records count as dropped.
const ATTEMPTS: u32 = 3;

/// A record, and the client-facing receipt that becomes its `details` in the background.
type Queued = Box<(ReceiptRecord, Option<Receipt>)>;

#[derive(Default)]
struct Pending {
    records: VecDeque<Queued>,
    flushes: Vec<oneshot::Sender<()>>,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
    dropped: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands records to the background writer; dropping it writes what is queued and ends the
/// writer.
pub struct ReceiptWriter {
    shared: Arc<Shared>,
}

impl ReceiptWriter {
    /// Starts the writer on a thread of its own (see [`crate::runtime_thread`]).
    pub fn start(store: Arc<dyn ReceiptStore>) -> std::io::Result<ReceiptWriter> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            dropped: AtomicU64::new(0),
        });
        runtime_thread::spawn("receipt-writer", 1, write_batches(store, shared.clone()))?;
        Ok(ReceiptWriter { shared })
    }

    /// Queues a record without waiting; a full queue drops it (counted).
    pub fn submit(&self, record: ReceiptRecord) {
        self.enqueue(record, None);
    }

    /// As [`ReceiptWriter::submit`], with `receipt` serialised into the record's `details` by
    /// the writer rather than on the request's path.
    pub fn submit_with_receipt(&self, record: ReceiptRecord, receipt: Receipt) {
        self.enqueue(record, Some(receipt));
    }

    fn enqueue(&self, record: ReceiptRecord, receipt: Option<Receipt>) {
        let queued = {
            let mut pending = self.shared.lock();
            if pending.records.len() < QUEUE {
                pending.records.push_back(Box::new((record, receipt)));
                Some(pending.records.len())
            } else {
                None
            }
        };
        match queued {
            Some(1 | BATCH) => self.shared.wake.notify_one(),
            Some(_) => {}
            None => {
                let total = self.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(dropped_total = total, "receipt queue full: receipt dropped");
            }
        }
    }

    /// Waits until every record queued before this call is written (or dropped).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        self.shared.lock().flushes.push(done);
        self.shared.wake.notify_one();
        let _ = written.await;
    }

    /// Receipts lost so far (queue full, or the store refused them).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for ReceiptWriter {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

async fn write_batches(store: Arc<dyn ReceiptStore>, shared: Arc<Shared>) {
    loop {
        shared.wake.notified().await;
        let due = {
            let pending = shared.lock();
            pending.records.len() >= BATCH || !pending.flushes.is_empty() || pending.closed
        };
        if !due {
            // A full batch or a flush arriving meanwhile cuts the wait short.
            let _ = tokio::time::timeout(LINGER, shared.wake.notified()).await;
        }
        // A batch at a time, so the queue's bound holds while the store is slow.
        loop {
            let (queued, emptied) = {
                let mut pending = shared.lock();
                let take = pending.records.len().min(BATCH);
                let queued: Vec<Queued> = pending.records.drain(..take).collect();
                // Flushes wait until everything queued before them is written.
                let emptied = pending
                    .records
                    .is_empty()
                    .then(|| (std::mem::take(&mut pending.flushes), pending.closed));
                (queued, emptied)
            };
            if !queued.is_empty() {
                let batch: Arc<[ReceiptRecord]> = queued
                    .into_iter()
                    .map(|queued| {
                        let (mut record, receipt) = *queued;
                        if let Some(receipt) = receipt {
                            record.details = ReceiptDetails::of(&receipt);
                        }
                        record
                    })
                    .collect();
                write_one_batch(store.as_ref(), batch, &shared.dropped).await;
            }
            let Some((flushes, closed)) = emptied else {
                continue;
            };
            for done in flushes {
                let _ = done.send(());
            }
            if closed {
                return;
            }
            break;
        }
    }
}

async fn write_one_batch(
    store: &dyn ReceiptStore,
    batch: Arc<[ReceiptRecord]>,
    dropped: &AtomicU64,
) {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        match store.append_receipts(batch.clone()).await {
            Ok(()) => return,
            Err(error) if attempt < ATTEMPTS => {
                tracing::warn!(%error, attempt, "writing receipts failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(error) => {
                let lost = u64::try_from(batch.len()).unwrap_or(u64::MAX);
                let total = dropped.fetch_add(lost, Ordering::Relaxed) + lost;
                tracing::error!(%error, lost, dropped_total = total, "receipts dropped: the store refused them");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use gateway_store::Timestamp;
    use gateway_store::model::query::ReceiptQuery;
    use gateway_store::model::receipt::TokenCounts;
    use gateway_store::sqlite::SqliteStore;

    use super::*;

    fn record(n: usize) -> ReceiptRecord {
        ReceiptRecord {
            request_id: format!("req_{n}"),
            org_id: "org_1".into(),
            key_id: None,
            at: Timestamp::now(),
            routing_decision: "direct".into(),
            provider: "openai".into(),
            model: "openai/gpt-4o".into(),
            status: 200,
            latency_ms: 1,
            tokens: TokenCounts::default(),
            cost_usd: 0.0,
            fallback_attempts: Vec::new(),
            details: ReceiptDetails::none(),
            expires_at: Timestamp::now().plus_days(1),
        }
    }

    /// How many of org_1's receipts are stored once there are `expected`, or after about a
    /// second.
    async fn stored_within_a_second(store: &SqliteStore, expected: usize) -> usize {
        let query = ReceiptQuery::for_org("org_1");
        let mut stored = 0;
        for _ in 0..200 {
            stored = store
                .query_receipts(&query, Timestamp::now())
                .await
                .unwrap()
                .items
                .len();
            if stored == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stored
    }

    #[tokio::test]
    async fn flush_returns_once_every_queued_receipt_is_stored() {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let writer = ReceiptWriter::start(store.clone()).unwrap();
        for n in 0..(BATCH * 2 + 7) {
            writer.submit(record(n));
        }
        writer.flush().await;
        let mut query = ReceiptQuery::for_org("org_1");
        query.limit = 1000;
        let page = store
            .query_receipts(&query, Timestamp::now())
            .await
            .unwrap();
        assert_eq!(page.items.len(), BATCH * 2 + 7);
        assert_eq!(writer.dropped(), 0);
    }

    #[tokio::test]
    async fn records_are_written_without_a_flush_once_the_batch_is_due() {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let writer = ReceiptWriter::start(store.clone()).unwrap();
        for n in 0..5 {
            writer.submit(record(n));
        }
        assert_eq!(stored_within_a_second(&store, 5).await, 5);
    }

    #[tokio::test]
    async fn dropping_the_writer_writes_what_is_queued() {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let writer = ReceiptWriter::start(store.clone()).unwrap();
        for n in 0..3 {
            writer.submit(record(n));
        }
        drop(writer);
        assert_eq!(stored_within_a_second(&store, 3).await, 3);
    }
}
