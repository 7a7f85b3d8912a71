//! Streamed response bodies paced and broken as the request's directives ask.
//!
//! Dialects render their events up front; this module hands them to hyper one at a
//! time, sleeping between them, so each event leaves as its own write, as from a real
//! provider. The body owns the call's [`CallGuard`]: if hyper drops the body early
//! because the client went away, the guard records it.

use std::{collections::VecDeque, io, time::Duration};

use axum::body::Body;
use bytes::Bytes;

use crate::{
    calls::{CallGuard, CallOutcome},
    server::Shutdown,
};

/// How long to let hyper flush the last event before cutting the connection, so the
/// client reliably receives the events it was promised.
const FLUSH_GRACE: Duration = Duration::from_millis(20);

/// Pacing and failure points of one stream, in events sent.
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamPlan {
    pub ttft: Duration,
    pub chunk_delay: Duration,
    /// Stop sending (without closing) once this many events were sent.
    pub stall_after: Option<usize>,
    /// Cut the connection once this many events were sent.
    pub disconnect_after: Option<usize>,
    /// Events from this index on (the finish reason, usage, `[DONE]`) follow without delay,
    /// as a real provider sends them together once generation ends.
    pub unpaced_from: Option<usize>,
}

struct State {
    events: VecDeque<Bytes>,
    sent: usize,
    plan: StreamPlan,
    call: Option<CallGuard>,
    shutdown: Shutdown,
}

/// A body that sends `events` according to `plan`, settling `call` when it ends.
pub(crate) fn body(
    events: Vec<Bytes>,
    plan: StreamPlan,
    call: CallGuard,
    shutdown: Shutdown,
) -> Body {
    let state = State {
        events: events.into(),
        sent: 0,
        plan,
        call: Some(call),
        shutdown,
    };
    Body::from_stream(futures::stream::unfold(state, next))
}

async fn next(mut state: State) -> Option<(Result<Bytes, io::Error>, State)> {
    // The call is settled exactly when the stream has ended.
    state.call.as_ref()?;
    if state.plan.stall_after == Some(state.sent) {
        state.shutdown.triggered().await;
        return state.abort("fake provider shut down during a stall");
    }
    if state.plan.disconnect_after == Some(state.sent) {
        tokio::time::sleep(FLUSH_GRACE).await;
        return state.abort("disconnect_after directive");
    }
    let delay = if state.sent == 0 {
        state.plan.ttft
    } else if state
        .plan
        .unpaced_from
        .is_some_and(|from| state.sent >= from)
    {
        Duration::ZERO
    } else {
        state.plan.chunk_delay
    };
    if state.shutdown.sleep(delay).await.is_err() {
        return state.abort("fake provider shut down mid-stream");
    }
    let Some(event) = state.events.pop_front() else {
        state.settle(CallOutcome::Completed);
        return None;
    };
    state.sent += 1;
    if state.events.is_empty() {
        state.settle(CallOutcome::Completed);
    }
    Some((Ok(event), state))
}

impl State {
    fn settle(&mut self, outcome: CallOutcome) {
        if let Some(call) = self.call.take() {
            call.settle(outcome);
        }
    }

    /// Yields the error that makes hyper cut the connection without a terminating chunk.
    fn abort(mut self, reason: &'static str) -> Option<(Result<Bytes, io::Error>, State)> {
        self.settle(CallOutcome::Aborted);
        Some((Err(io::Error::other(reason)), self))
    }
}
