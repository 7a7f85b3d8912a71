//! Receipts reach the request log through a background writer, so no client waits on a store
//! write: the request path hands a record to a bounded channel and moves on; one task writes
//! them in batches, waiting up to [`LINGER`] after a record for others to join it, so a busy
//! gateway writes one batch where it would write hundreds of single rows. When the channel is
//! full (the store is down or slow) records are dropped, counted and logged rather than slowing
//! requests. [`ReceiptWriter::flush`] writes everything queued before it returns, which the
//! server calls on clean shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gateway_core::receipt::Receipt;
use gateway_store::ReceiptStore;
use gateway_store::model::receipt::{ReceiptDetails, ReceiptRecord};
use tokio::sync::{mpsc, oneshot};

use crate::writer_thread;

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

enum Message {
    /// A record, and the client-facing receipt that becomes its `details` in the background.
    Record(Box<(ReceiptRecord, Option<Receipt>)>),
    Flush(oneshot::Sender<()>),
}

pub struct ReceiptWriter {
    queue: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl ReceiptWriter {
    /// Starts the writer on a thread of its own (see [`crate::writer_thread`]); it ends once
    /// every handle is dropped and the queue is written.
    pub fn start(store: Arc<dyn ReceiptStore>) -> std::io::Result<ReceiptWriter> {
        let (queue, inbox) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        writer_thread::spawn(
            "receipt-writer",
            write_batches(store, inbox, dropped.clone()),
        )?;
        Ok(ReceiptWriter { queue, dropped })
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
        if self
            .queue
            .try_send(Message::Record(Box::new((record, receipt))))
            .is_err()
        {
            let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(dropped_total = total, "receipt queue full: receipt dropped");
        }
    }

    /// Waits until every record queued before this call is written (or dropped).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Receipts lost so far (queue full, or the store refused them).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write_batches(
    store: Arc<dyn ReceiptStore>,
    mut inbox: mpsc::Receiver<Message>,
    dropped: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = inbox.recv().await {
        let deadline = tokio::time::Instant::now() + LINGER;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Record(queued) => {
                    let (mut record, receipt) = *queued;
                    if let Some(receipt) = receipt {
                        record.details = ReceiptDetails::of(&receipt);
                    }
                    batch.push(record);
                }
                // Everything queued before the flush is in the batch: write it now.
                Message::Flush(done) => {
                    waiting.push(done);
                    break;
                }
            }
            if batch.len() >= BATCH {
                break;
            }
            next = tokio::time::timeout_at(deadline, inbox.recv())
                .await
                .ok()
                .flatten();
        }
        if !batch.is_empty() {
            let records: Arc<[ReceiptRecord]> =
                std::mem::replace(&mut batch, Vec::with_capacity(BATCH)).into();
            write_one_batch(store.as_ref(), records, &dropped).await;
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
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
        let query = ReceiptQuery::for_org("org_1");
        let mut stored = 0;
        for _ in 0..200 {
            stored = store
                .query_receipts(&query, Timestamp::now())
                .await
                .unwrap()
                .items
                .len();
            if stored == 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(stored, 5);
    }
}
