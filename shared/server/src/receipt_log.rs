//! The most recent receipts, in memory, readable by request id (`GET /v1/receipts/{id}`).
//!
//! A bounded ring: the oldest receipt goes when a new one arrives at capacity. Every receipt
//! also goes to the store's request log through the background writer; the admin API reads
//! this ring first, since a receipt just made may not be written yet.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use gateway_core::receipt::Receipt;

pub struct ReceiptLog {
    capacity: usize,
    inner: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    order: VecDeque<String>,
    by_id: HashMap<String, Arc<Receipt>>,
}

impl ReceiptLog {
    pub fn new(capacity: usize) -> Self {
        ReceiptLog {
            capacity,
            inner: Mutex::new(Ring::default()),
        }
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // The ring holds no invariant a panic elsewhere could break half-way.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn push(&self, receipt: Receipt) {
        if self.capacity == 0 {
            return;
        }
        let mut ring = self.ring();
        while ring.order.len() >= self.capacity {
            if let Some(oldest) = ring.order.pop_front() {
                ring.by_id.remove(&oldest);
            }
        }
        ring.order.push_back(receipt.request_id.clone());
        ring.by_id
            .insert(receipt.request_id.clone(), Arc::new(receipt));
    }

    pub fn get(&self, request_id: &str) -> Option<Arc<Receipt>> {
        self.ring().by_id.get(request_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipts::Routed;
    use crate::request_id::RequestContext;
    use gateway_core::catalog::Catalog;
    use gateway_core::receipt::UsageSource;
    use gateway_core::wire::Usage;

    fn receipt(id: &str) -> Receipt {
        let model = Catalog::built_in()
            .unwrap()
            .get("openai/gpt-4o")
            .unwrap()
            .clone();
        let context = RequestContext {
            id: id.into(),
            received: std::time::Instant::now(),
            caller: None,
        };
        Routed::direct(context, model, std::time::Duration::ZERO)
            .receipt(&Usage::new(1, 1), UsageSource::Provider)
    }

    #[test]
    fn the_oldest_receipt_makes_room_for_the_newest() {
        let log = ReceiptLog::new(2);
        for id in ["a", "b", "c"] {
            log.push(receipt(id));
        }
        assert!(log.get("a").is_none());
        assert_eq!(log.get("b").unwrap().request_id, "b");
        assert_eq!(log.get("c").unwrap().request_id, "c");
    }
}
