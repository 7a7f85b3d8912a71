//! The outermost layer. It gives every request an id (`req_…`), visible to handlers and returned
//! as `x-request-id`, and the instant it arrived, from which receipts measure latency; it marks
//! the key header sensitive so nothing that logs headers prints it; and it gives framework-made
//! error answers (404, 405, 413) the OpenAI shape.

use std::sync::Arc;
use std::time::Instant;

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
        // 128 random bits from the thread's generator: no system call per request.
        id: format!("req_{:032x}", rand::random::<u128>()),
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
