//! The call log: the requests a fake received, in arrival order, with an outcome that
//! follows the exchange as it progresses. It keeps the latest [`FakeOptions::keep_calls`]
//! (older ones are counted, not kept), so a fake that serves a demo or a load test for hours
//! holds a bounded amount of memory.
//!
//! [`FakeOptions::keep_calls`]: crate::FakeOptions::keep_calls
//!
//! Outcomes are what cancellation tests assert on, so they are tied to ownership: the
//! code answering a request holds a [`CallGuard`] (for streams, the body does), and a
//! guard dropped before it was settled means hyper dropped the reply because the client
//! went away.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde_json::Value;

/// One request as the fake received it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedCall {
    pub method: String,
    pub path: String,
    /// The raw `Authorization` header value.
    pub authorization: Option<String>,
    /// The parsed JSON body; `Null` when absent or not JSON.
    pub body: Value,
    pub outcome: CallOutcome,
}

/// How a recorded call has ended so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Still being answered, or deliberately hanging or stalled.
    InProgress,
    /// The whole reply was handed to the connection.
    Completed,
    /// Answered with an error status.
    Rejected,
    /// The client went away before the reply was complete.
    ClientDisconnected,
    /// The fake cut the connection on purpose (`disconnect_after`, or a hang or stall
    /// ended by shutdown).
    Aborted,
}

impl RecordedCall {
    pub(crate) fn new(
        method: &str,
        path: &str,
        authorization: Option<String>,
        body: Value,
    ) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            authorization,
            body,
            outcome: CallOutcome::InProgress,
        }
    }
}

/// What a call log holds: the latest calls, and how many came before them.
#[derive(Debug, Default)]
struct Kept {
    calls: VecDeque<RecordedCall>,
    /// Calls no longer kept; also the sequence number of `calls[0]`.
    dropped: usize,
}

/// The calls a fake has kept, as `GET /__fake/calls` reports them.
#[derive(Debug, Serialize)]
pub(crate) struct CallSnapshot {
    /// The kept calls, oldest first.
    pub(crate) calls: Vec<RecordedCall>,
    /// Earlier calls no longer kept (beyond [`crate::FakeOptions::keep_calls`]).
    pub(crate) dropped: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct CallLog {
    kept: Arc<Mutex<Kept>>,
    keep: usize,
}

impl CallLog {
    /// A log that keeps the latest `keep` calls.
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            kept: Arc::default(),
            keep,
        }
    }

    /// Records the call `call` makes; with nothing kept it is never made (a fake serving
    /// load copies no request bodies), though the call still gets its sequence number.
    pub(crate) fn record(&self, call: impl FnOnce() -> RecordedCall) -> CallGuard {
        let call = (self.keep > 0).then(call);
        let mut kept = self.lock();
        let sequence = kept.dropped + kept.calls.len();
        match call {
            Some(call) => kept.calls.push_back(call),
            None => kept.dropped += 1,
        }
        while kept.calls.len() > self.keep {
            kept.calls.pop_front();
            kept.dropped += 1;
        }
        CallGuard {
            log: self.clone(),
            sequence,
            settled: false,
        }
    }

    pub(crate) fn snapshot(&self) -> CallSnapshot {
        let kept = self.lock();
        CallSnapshot {
            calls: kept.calls.iter().cloned().collect(),
            dropped: kept.dropped,
        }
    }

    fn set_outcome(&self, sequence: usize, outcome: CallOutcome) {
        let mut kept = self.lock();
        let Some(index) = sequence.checked_sub(kept.dropped) else {
            return;
        };
        if let Some(call) = kept.calls.get_mut(index) {
            call.outcome = outcome;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        // The log is only ever pushed to, trimmed or updated in place, so it stays
        // consistent even if a holder panicked.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ties one recorded call to whatever is answering it. Dropping it unsettled records
/// [`CallOutcome::ClientDisconnected`].
#[derive(Debug)]
pub(crate) struct CallGuard {
    log: CallLog,
    sequence: usize,
    settled: bool,
}

impl CallGuard {
    /// The call's position among every call the server received (kept or not).
    pub(crate) fn sequence(&self) -> usize {
        self.sequence
    }

    pub(crate) fn settle(mut self, outcome: CallOutcome) {
        self.log.set_outcome(self.sequence, outcome);
        self.settled = true;
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.settled {
            self.log
                .set_outcome(self.sequence, CallOutcome::ClientDisconnected);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> RecordedCall {
        RecordedCall::new("POST", "/v1/chat/completions", None, Value::Null)
    }

    #[test]
    fn outcomes_follow_the_guard() {
        let log = CallLog::new(10);
        log.record(call).settle(CallOutcome::Completed);
        let dropped = log.record(call);
        let pending = log.record(call);
        drop(dropped);
        let outcomes: Vec<_> = log.snapshot().calls.iter().map(|c| c.outcome).collect();
        assert_eq!(
            outcomes,
            [
                CallOutcome::Completed,
                CallOutcome::ClientDisconnected,
                CallOutcome::InProgress
            ]
        );
        assert_eq!(pending.sequence(), 2);
    }

    #[test]
    fn only_the_latest_calls_are_kept_and_the_rest_counted() {
        let log = CallLog::new(2);
        let first = log.record(call);
        let second = log.record(call);
        let third = log.record(call);
        assert_eq!(
            [first.sequence(), second.sequence(), third.sequence()],
            [0, 1, 2]
        );
        // The first call is no longer kept: settling it changes nothing kept.
        first.settle(CallOutcome::Rejected);
        third.settle(CallOutcome::Completed);
        let snapshot = log.snapshot();
        assert_eq!(snapshot.dropped, 1);
        let outcomes: Vec<_> = snapshot.calls.iter().map(|c| c.outcome).collect();
        assert_eq!(outcomes, [CallOutcome::InProgress, CallOutcome::Completed]);
        drop(second);
        assert_eq!(
            log.snapshot().calls[0].outcome,
            CallOutcome::ClientDisconnected
        );
    }

    #[test]
    fn a_log_that_keeps_nothing_still_numbers_calls() {
        let log = CallLog::new(0);
        log.record(call).settle(CallOutcome::Completed);
        let second = log.record(call);
        assert_eq!(second.sequence(), 1);
        let snapshot = log.snapshot();
        assert!(snapshot.calls.is_empty());
        assert_eq!(snapshot.dropped, 2);
    }
}
