//! Usage the provider did not report, counted by the gateway on the blocking pool.

use gateway_core::tokens::{self, OutputText};
use gateway_core::wire::{Message, Usage};

/// Counts the prompt and the completion without holding up the async runtime.
pub async fn count(messages: Vec<Message>, output: OutputText) -> Usage {
    let counted = tokio::task::spawn_blocking(move || {
        Usage::new(tokens::count_prompt(&messages), output.count())
    })
    .await;
    // The closure cannot panic on valid UTF-8 text; should the pool be gone, say nothing was counted.
    counted.unwrap_or_default()
}
