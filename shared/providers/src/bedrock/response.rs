//! A Converse answer as an OpenAI `chat.completion`, and the stop reasons and token usage
//! that streams share with it.

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConverseOutput as Output, StopReason, TokenUsage,
};
use gateway_core::wire::Usage;
use serde_json::json;

use super::document::document_to_json;
use crate::translate::{Completion, FinishReason};

pub(crate) fn converse_to_completion(model: &str, output: &ConverseOutput) -> Completion {
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    if let Some(Output::Message(message)) = output.output() {
        for block in message.content() {
            match block {
                ContentBlock::Text(t) => text.get_or_insert_with(String::new).push_str(t),
                ContentBlock::ToolUse(call) => tool_calls.push((
                    call.tool_use_id().to_owned(),
                    call.name().to_owned(),
                    document_to_json(call.input()).to_string(),
                )),
                // Reasoning, citations and the like have no place in a chat completion.
                _ => {}
            }
        }
    }
    Completion {
        id: None,
        model: model.to_owned(),
        content: text,
        tool_calls,
        finish_reason: stop_reason_to_finish_reason(output.stop_reason()),
        usage: output.usage().map(token_usage_to_usage).unwrap_or_default(),
    }
}

pub(crate) fn stop_reason_to_finish_reason(reason: &StopReason) -> FinishReason {
    match reason {
        StopReason::MaxTokens | StopReason::ModelContextWindowExceeded => FinishReason::Length,
        StopReason::ToolUse => FinishReason::ToolCalls,
        StopReason::GuardrailIntervened | StopReason::ContentFiltered => {
            FinishReason::ContentFilter
        }
        _ => FinishReason::Stop,
    }
}

/// Bedrock counts cached prompt tokens apart from `inputTokens`; OpenAI's `prompt_tokens`
/// includes them, with the cache hits also in `prompt_tokens_details.cached_tokens`.
pub(crate) fn token_usage_to_usage(usage: &TokenUsage) -> Usage {
    let count = |n: i32| u64::try_from(n).unwrap_or(0);
    let cache_read = usage.cache_read_input_tokens().map_or(0, count);
    let cache_write = usage.cache_write_input_tokens().map_or(0, count);
    let mut out = Usage::new(
        count(usage.input_tokens()) + cache_read + cache_write,
        count(usage.output_tokens()),
    );
    if usage.cache_read_input_tokens().is_some() {
        out.extra.insert(
            "prompt_tokens_details".to_owned(),
            json!({ "cached_tokens": cache_read }),
        );
    }
    out
}
