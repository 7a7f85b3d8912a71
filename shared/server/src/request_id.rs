//! The outermost layer. It gives every request an id (`req_…`), visible to handlers and returned
//! as `x-request-id`, and the instant it arrived, from which receipts measure latency; it marks
//! the key header sensitive so nothing that logs headers prints it; and it gives framework-made
//! error answers (404, 405, 413) the OpenAI shape.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use gateway_core::receipt::Receipt;

use crate::access::Caller;
use crate::errors;

pub const HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub id: String,
    pub received: Instant,
    /// Set by authentication; receives the receipt once the request is answered.
    pub caller: Option<Arc<Caller>>,
}

impl RequestContext {
    /// Hands the finished request's receipt to the caller's request log and limits.
    pub fn record(&self, receipt: &Receipt, status: u16) {
        if let Some(caller) = &self.caller {
            caller.record(receipt, status);
        }
    }
}

pub async fn assign(mut request: Request, next: Next) -> Response {
    if let Some(key) = request.headers_mut().get_mut(header::AUTHORIZATION) {
        key.set_sensitive(true);
    }
    let context = RequestContext {
        id: new_id(),
        received: Instant::now(),
        caller: None,
    };
    let header = HeaderValue::from_str(&context.id).ok();
    let span = tracing::info_span!("request", request_id = %context.id);
    request.extensions_mut().insert(context.clone());
    let mut response = errors::openai_shaped(next.run(request).instrument(span).await);
    if let Some(header) = header {
        // Responses that never reached a provider (errors, listings) still say which request
        // they answer in the receipt header.
        if !response.headers().contains_key(crate::receipts::HEADER) {
            crate::receipts::insert_header(
                response.headers_mut(),
                &format!("request_id={}", context.id),
            );
        }
        response.headers_mut().insert(HEADER, header);
    }
    response
}

/// A new request id: `req_` and 32 hex digits. The first 12 are the Unix time in milliseconds;
/// the other 20 are 80 random bits from the thread's generator (unguessable, and no system call).
///
/// Ids made later sort after earlier ones, so the request log's primary-key index grows at its
/// end, as its time index does. With wholly random ids each receipt written landed on a page of
/// its own in that index, which doubled the cost of writing a batch.
fn new_id() -> String {
    const RANDOM_BITS: u32 = 80;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let time = (millis & ((1 << (128 - RANDOM_BITS)) - 1)) << RANDOM_BITS;
    let random = rand::random::<u128>() >> (128 - RANDOM_BITS);
    format!("req_{:032x}", time | random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_hex_and_sort_in_the_order_they_were_made() {
        let first = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = [new_id(), new_id()];
        assert_ne!(later[0], later[1]);
        for id in [&first, &later[0]] {
            let hex = id.strip_prefix("req_").unwrap();
            assert_eq!(hex.len(), 32);
            assert!(
                hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                "{id}"
            );
        }
        assert!(first < later[0] && first < later[1]);
        let millis = u64::from_str_radix(&first[4..16], 16).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(
            now.abs_diff(u128::from(millis)) < 60_000,
            "{first} against {now}"
        );
    }
}
