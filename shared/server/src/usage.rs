//! Usage the provider did not report, counted by the gateway on the blocking pool.
//!
//! The prompt is read again from the request body only here, when it is needed: the common case
//! (the provider reports usage) then costs nothing, however long the prompt.

use bytes::Bytes;
use gateway_core::receipt::UsageSource;
use gateway_core::tokens::{self, OutputText};
use gateway_core::wire::{EmbeddingInput, Message, Usage};
use serde::{Deserialize, Deserializer};

/// The part of a request that counts as prompt: a chat request's messages, an embeddings
/// request's input.
#[derive(Deserialize)]
struct Prompt {
    #[serde(default)]
    messages: Vec<Message>,
    /// Read only where it is an embeddings input: a chat request's own `input` is no prompt.
    #[serde(default, deserialize_with = "embedding_input")]
    input: Option<EmbeddingInput>,
}

fn embedding_input<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<EmbeddingInput>, D::Error> {
    // Untagged, so the whole value is read before it fails to match.
    Ok(EmbeddingInput::deserialize(deserializer).ok())
}

impl Prompt {
    fn count(&self) -> u64 {
        match &self.input {
            Some(input) => tokens::count_input(input),
            None => tokens::count_prompt(&self.messages),
        }
    }
}

/// Counts the prompt (from the request body the client sent) and the completion without
/// holding up the async runtime.
pub async fn count(request_body: Bytes, output: OutputText) -> Usage {
    let counted = tokio::task::spawn_blocking(move || {
        // The body was parsed and validated before the provider was called, so it parses here.
        let prompt_tokens = serde_json::from_slice::<Prompt>(&request_body)
            .map(|p| p.count())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt_tokens(body: &str) -> u64 {
        serde_json::from_str::<Prompt>(body).unwrap().count()
    }

    #[test]
    fn the_prompt_is_a_chats_messages_or_an_embeddings_input() {
        let messages = r#"[{"role":"user","content":"Hello, world!"}]"#;
        let chat = prompt_tokens(&format!(r#"{{"model":"m","messages":{messages}}}"#));
        assert_eq!(chat, 11);
        let stray_input = format!(r#"{{"model":"m","messages":{messages},"input":{{"a":1}}}}"#);
        assert_eq!(prompt_tokens(&stray_input), chat);
        assert_eq!(prompt_tokens(r#"{"model":"m","input":"Hello, world!"}"#), 4);
        assert_eq!(prompt_tokens(r#"{"model":"m","input":[[1,2],[3]]}"#), 3);
    }
}
