//! The call log: every request a fake received, in arrival order, with an outcome that
//! follows the exchange as it progresses.
//!
//! Outcomes are what cancellation tests assert on, so they are tied to ownership: the
//! code answering a request holds a [`CallGuard`] (for streams, the body does), and a
//! guard dropped before it was settled means hyper dropped the reply because the client
//! went away.

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

#[derive(Clone, Debug, Default)]
pub(crate) struct CallLog {
    calls: Arc<Mutex<Vec<RecordedCall>>>,
}

impl CallLog {
    pub(crate) fn record(&self, call: RecordedCall) -> CallGuard {
        let mut calls = self.lock();
        calls.push(call);
        CallGuard {
            log: self.clone(),
            index: calls.len() - 1,
            settled: false,
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedCall> {
        self.lock().clone()
    }

    fn set_outcome(&self, index: usize, outcome: CallOutcome) {
        if let Some(call) = self.lock().get_mut(index) {
            call.outcome = outcome;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RecordedCall>> {
        // The log is only ever pushed to or updated in place, so it stays consistent
        // even if a holder panicked.
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ties one recorded call to whatever is answering it. Dropping it unsettled records
/// [`CallOutcome::ClientDisconnected`].
#[derive(Debug)]
pub(crate) struct CallGuard {
    log: CallLog,
    index: usize,
    settled: bool,
}

impl CallGuard {
    /// The call's position in the log: a per-server sequence number.
    pub(crate) fn sequence(&self) -> usize {
        self.index
    }

    pub(crate) fn settle(mut self, outcome: CallOutcome) {
        self.log.set_outcome(self.index, outcome);
        self.settled = true;
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.settled {
            self.log
                .set_outcome(self.index, CallOutcome::ClientDisconnected);
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
        let log = CallLog::default();
        log.record(call()).settle(CallOutcome::Completed);
        let dropped = log.record(call());
        let pending = log.record(call());
        drop(dropped);
        let outcomes: Vec<_> = log.snapshot().iter().map(|c| c.outcome).collect();
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
}
