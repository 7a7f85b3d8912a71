//! Usage the provider did not report, counted by the gateway on the blocking pool.
//!
//! The prompt is read again from the request body only here, when it is needed: the common case
//! (the provider reports usage) then costs nothing, however long the prompt.

use bytes::Bytes;
use gateway_core::receipt::UsageSource;
use gateway_core::tokens::{self, OutputText};
use gateway_core::wire::{Message, Usage};
use serde::Deserialize;

/// The part of a chat request that counts as prompt.
#[derive(Deserialize)]
struct Prompt {
    messages: Vec<Message>,
}

/// Counts the prompt (from the request body the client sent) and the completion without
/// holding up the async runtime.
pub async fn count(request_body: Bytes, output: OutputText) -> Usage {
    let counted = tokio::task::spawn_blocking(move || {
        // The body was parsed and validated before the provider was called, so it parses here.
        let prompt_tokens = serde_json::from_slice::<Prompt>(&request_body)
            .map(|p| tokens::count_prompt(&p.messages))
            .unwrap_or(0);
        Usage::new(prompt_tokens, output.count())
    })
    .await;
    // The closure cannot panic on valid UTF-8 text; should the pool be gone, say nothing was counted.
    counted.unwrap_or_default()
}

/// The usage the provider reported, or else the gateway's count of the prompt and the output.
pub async fn reported_or_counted(
    reported: Option<Usage>,
    request_body: &Bytes,
    output: &OutputText,
) -> (Usage, UsageSource) {
    match reported {
        Some(usage) => (usage, UsageSource::Provider),
        None => (
            count(request_body.clone(), output.clone()).await,
            UsageSource::Gateway,
        ),
    }
}
