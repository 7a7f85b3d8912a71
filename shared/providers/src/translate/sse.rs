//! Reading a provider's Server-Sent Events, with transport failures classified.

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use gateway_core::upstream::{ProviderError, ProviderErrorKind};

use crate::http::UpstreamResponse;

/// The events of an SSE response (named events keep their `event:` name). A connection that
/// breaks is a `StreamInterrupted`/`Timeout` error; bytes that are not SSE are
/// `InvalidResponse`.
pub fn sse_events(
    provider: String,
    response: UpstreamResponse,
) -> impl Stream<Item = Result<Event, ProviderError>> + Send {
    response.into_stream().eventsource().map(move |event| {
        event.map_err(|e| match e {
            EventStreamError::Transport(e) => e,
            e => ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("{provider} sent a malformed event stream: {e}"),
            ),
        })
    })
}
