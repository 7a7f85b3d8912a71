//! `[server] max_in_flight`: past that many requests in progress on `/v1`, a new one is
//! answered at once with 503 `gateway_overloaded` and `Retry-After`, rather than queueing
//! behind the others for memory, connections and CPU until every client times out. Each
//! request in flight holds a connection to its client and one to its provider, and memory for
//! both, so the limit also bounds what an overload costs the machine.
//!
//! A request counts from before authentication (the cheapest place to refuse it) until its
//! response body is finished: the last chunk of a stream sent, or its client gone. Without the
//! setting nothing is counted and this layer is not installed.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use gateway_core::{ApiError, ErrorKind};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

use crate::errors;

/// What a refused client is told to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The permits of `[server] max_in_flight`, shared by every thread that answers requests.
#[derive(Clone)]
pub struct InFlightLimit {
    permits: Arc<Semaphore>,
    max: NonZeroUsize,
}

impl InFlightLimit {
    pub fn new(max: NonZeroUsize) -> Self {
        InFlightLimit {
            permits: Arc::new(Semaphore::new(max.get())),
            max,
        }
    }
}

/// Admits a request if fewer than the limit are in flight; its permit goes with the response
/// body.
pub async fn admit(State(limit): State<InFlightLimit>, request: Request, next: Next) -> Response {
    let Ok(permit) = limit.permits.clone().try_acquire_owned() else {
        tracing::debug!(
            max_in_flight = limit.max,
            "request refused: too many in flight"
        );
        return errors::error_response(&overloaded(limit.max));
    };
    next.run(request).await.map(|body| {
        // The closure owns the permit, so it is released when the body is dropped: once
        // sent in full, or when the client goes away mid-stream.
        Body::new(body.map_frame(move |frame| {
            let _held = &permit;
            frame
        }))
    })
}

fn overloaded(max: NonZeroUsize) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        format!(
            "The gateway already has {max} requests in progress (`[server] max_in_flight`); \
             try again shortly."
        ),
    )
    .with_code("gateway_overloaded")
    .with_retry_after(Some(RETRY_AFTER))
}
