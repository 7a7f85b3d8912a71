//! Receipts of answers cut short after the provider was called: the client left, a stopping
//! server ended the request, or the provider's stream broke. The provider bills what it read and
//! generated all the same, so the request is billed too (its spend and token limits count it), on
//! the prompt and the output the gateway received, and its receipt's `error` says why it ended.
//!
//! Such a receipt is mostly wanted while the request's own future is being dropped, and may need
//! tokens counted on the blocking pool, so it is made and recorded in a task of its own. The tasks
//! are tracked ([`AppState::settling`]): a stopping server's threads wait for them before the last
//! receipts are written out.

use std::sync::Arc;

use bytes::Bytes;
use gateway_core::receipt::ReceiptError;
use gateway_core::tokens::OutputText;
use gateway_core::wire::Usage;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::draining;
use crate::receipt_log::ReceiptLog;
use crate::receipts::{self, Routed};
use crate::state::AppState;
use crate::usage;

/// What a request cut short is billed on.
pub struct Generated {
    /// Usage the provider reported before the end, if it did.
    pub reported: Option<Usage>,
    /// The client's request: its prompt is counted when the provider reported nothing.
    pub request_body: Bytes,
    /// The output the gateway received.
    pub output: OutputText,
}

/// Records the receipt of `routed`'s request, cut short for the reason `ended`, in a task of
/// `tasks`. `None` outside a runtime, where nothing can be counted: the request is then logged
/// without a receipt.
pub fn settle(
    tasks: &TaskTracker,
    receipts: &Arc<ReceiptLog>,
    routed: Routed,
    generated: Generated,
    ended: ReceiptError,
) -> Option<JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let receipts = receipts.clone();
    let settling = async move {
        let Generated {
            reported,
            request_body,
            output,
        } = generated;
        let (usage, counted_by) =
            usage::reported_or_counted(reported, &request_body, &output).await;
        let status = ended.status;
        let receipt = routed.unfinished_receipt(&usage, counted_by, ended);
        tracing::info!(
            model = %receipt.model,
            cost_usd = receipt.cost_usd,
            completion_tokens = receipt.tokens.completion,
            status,
            "chat completion ended before the model finished"
        );
        routed.context.record(&receipt, status);
        receipts.push(receipt);
    };
    Some(tasks.spawn_on(settling, &runtime))
}

/// Why a request whose answer was dropped ended: the server's grace period was over, or else
/// its client left.
pub fn reason(grace_over: &CancellationToken) -> ReceiptError {
    if grace_over.is_cancelled() {
        receipts::receipt_error(&draining::shutting_down())
    } else {
        client_left()
    }
}

/// 499, as proxies log a client that closed its request.
fn client_left() -> ReceiptError {
    ReceiptError {
        status: 499,
        code: "client_closed_request".to_owned(),
        message: "The client closed the connection before the answer was complete.".to_owned(),
    }
}

/// A provider call whose answer is not made yet. Dropped so, because its client left or a
/// stopping server ended it, it bills the prompt, which the provider has read, and the output
/// it was given ([`Unanswered::received`]); the provider may bill more, which the gateway
/// never sees.
pub struct Unanswered<'a> {
    state: &'a AppState,
    routed: &'a Routed,
    request_body: &'a Bytes,
    output: OutputText,
    answered: bool,
}

impl<'a> Unanswered<'a> {
    pub fn new(state: &'a AppState, routed: &'a Routed, request_body: &'a Bytes) -> Self {
        Unanswered {
            state,
            routed,
            request_body,
            output: OutputText::default(),
            answered: false,
        }
    }

    /// The provider's answer arrived with this output, still to be counted.
    pub fn received(&mut self, output: &OutputText) {
        self.output = output.clone();
    }

    /// The answer is made (or the call failed, which the provider does not bill).
    pub fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let generated = Generated {
            reported: None,
            request_body: self.request_body.clone(),
            output: std::mem::take(&mut self.output),
        };
        // Detached: it records the receipt on its own.
        drop(settle(
            &self.state.settling,
            &self.state.receipts,
            self.routed.clone(),
            generated,
            reason(&self.state.grace_over),
        ));
    }
}
