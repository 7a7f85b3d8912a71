//! Ending what is still in flight once a shutdown's grace period is over
//! (`[server] shutdown_grace_ms`). Until then a stopping server answers what it has; after it,
//! a stream ends with an error event and any other request with a 503, both with the code
//! `gateway_shutting_down`, so every client hears why, and the process can write out its
//! receipts before a process manager's kill arrives. Neither counts against the provider.

use std::future::Future;
use std::time::Duration;

use gateway_core::{ApiError, ErrorKind};
use tokio_util::sync::CancellationToken;

use crate::errors::ErrorResponse;

/// What a request still in flight at the end of the grace period is told.
pub fn shutting_down() -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "The gateway is shutting down and ended this request before it was answered; send it \
         again.",
    )
    .with_code("gateway_shutting_down")
    .with_retry_after(Some(Duration::from_secs(1)))
}

/// Runs `work`, unless `ended` fires first: then it is dropped (with any provider call it
/// made) and the answer is [`shutting_down`].
pub async fn unless_ended<T>(
    ended: &CancellationToken,
    work: impl Future<Output = Result<T, ErrorResponse>>,
) -> Result<T, ErrorResponse> {
    tokio::select! {
        biased;
        result = work => result,
        () = ended.cancelled() => Err(shutting_down().into()),
    }
}
