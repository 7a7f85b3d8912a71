//! Anthropic Message → OpenAI `chat.completion`, and the vocabulary both directions share:
//! stop reasons and usage.

use gateway_core::upstream::{ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatCompletion, Usage};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::translate::{Completion, FinishReason};

/// The parts of a Message the translation reads.
#[derive(Debug, Deserialize)]
pub(super) struct Message {
    pub id: String,
    pub model: String,
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

/// Text and client tool calls are the answer; thinking, server-tool and other blocks have no
/// place in an OpenAI message and are left out.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

/// Anthropic's counts. `input_tokens` excludes prompt-cache reads and writes, which are
/// counted apart; all three are prompt tokens in OpenAI's terms.
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Takes every count `later` reports (a stream's `message_delta` updates `message_start`).
    pub fn update(&mut self, later: &AnthropicUsage) {
        let take = |mine: &mut Option<u64>, theirs: Option<u64>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        take(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }
}

/// OpenAI usage: every prompt token (fresh, cache write, cache read) in `prompt_tokens`, the
/// cache reads also in `prompt_tokens_details.cached_tokens`.
pub(super) fn anthropic_usage_to_openai_usage(usage: &AnthropicUsage) -> Usage {
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let prompt = usage.input_tokens.unwrap_or(0)
        + usage.cache_creation_input_tokens.unwrap_or(0)
        + cache_read;
    let mut openai = Usage::new(prompt, usage.output_tokens.unwrap_or(0));
    if usage.cache_read_input_tokens.is_some() || usage.cache_creation_input_tokens.is_some() {
        openai.extra.insert(
            "prompt_tokens_details".into(),
            json!({"cached_tokens": cache_read}),
        );
    }
    openai
}

/// Anthropic's `stop_reason` in OpenAI's vocabulary. `pause_turn` (a server tool paused the
/// turn) and reasons added later end the answer like `end_turn`.
pub(super) fn anthropic_stop_reason_to_finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// A non-streamed Message as an OpenAI completion. Usage is `None` when Anthropic reported
/// none, so the gateway counts it instead of trusting zeros.
pub fn message_to_chat_completion(body: &[u8]) -> Result<ChatCompletion, ProviderError> {
    let message: Message = serde_json::from_slice(body).map_err(|e| {
        ProviderError::new(
            ProviderErrorKind::InvalidResponse,
            format!("the response is not an Anthropic Message ({e})"),
        )
    })?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        match block {
            ContentBlock::Text { text: t } => text.push_str(&t),
            ContentBlock::ToolUse { id, name, input } => {
                let input = if input.is_null() { json!({}) } else { input };
                tool_calls.push((id, name, input.to_string()));
            }
            ContentBlock::Other => {}
        }
    }
    let content = (tool_calls.is_empty() || !text.is_empty()).then_some(text);
    let mut completion = Completion {
        id: Some(message.id),
        model: message.model,
        content,
        tool_calls,
        finish_reason: anthropic_stop_reason_to_finish_reason(message.stop_reason.as_deref()),
        usage: message
            .usage
            .as_ref()
            .map(anthropic_usage_to_openai_usage)
            .unwrap_or_default(),
    }
    .into_chat_completion();
    if message.usage.is_none() {
        completion.usage = None;
    }
    Ok(completion)
}
