//! Cohere v2 chat answers, finish reasons and usage read into OpenAI's terms.
//!
//! Text parts become the message content; `thinking` parts and the `tool_plan` (Cohere's
//! narration before it calls tools) have no OpenAI field and are left out. Citations travel
//! as the documented extension `message.citations`, unchanged, when Cohere returns any.

use bytes::Bytes;
use gateway_core::upstream::{ChatReply, ProviderError, ProviderErrorKind};
use gateway_core::wire::Usage;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::translate::{Completion, FinishReason};

#[derive(Debug, Deserialize)]
pub(crate) struct ChatResponse {
    pub id: String,
    pub finish_reason: String,
    pub message: AssistantMessage,
    #[serde(default)]
    pub usage: Option<CohereUsage>,
    #[serde(default)]
    pub logprobs: Option<Vec<LogprobItem>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AssistantMessage {
    #[serde(default)]
    pub content: Vec<ContentItem>,
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default)]
    pub citations: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum ContentItem {
    Text {
        text: String,
    },
    Thinking {},
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolCall {
    pub id: String,
    #[serde(default)]
    pub function: Option<ToolFunction>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ToolFunction {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// `usage`: `tokens` counts everything the model read and wrote; `billed_units` what Cohere
/// charges (it leaves out tokens it adds itself), read only when `tokens` is missing.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CohereUsage {
    #[serde(default)]
    pub tokens: Option<TokenCounts>,
    #[serde(default)]
    pub billed_units: Option<TokenCounts>,
    #[serde(default)]
    pub cached_tokens: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenCounts {
    #[serde(default)]
    pub input_tokens: Option<f64>,
    #[serde(default)]
    pub output_tokens: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LogprobItem {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub logprobs: Vec<f64>,
}

/// How a Cohere answer ended, in OpenAI's words; `ERROR` and `TIMEOUT` are failures.
pub(crate) fn finish_reason(
    reason: &str,
    detail: Option<&str>,
) -> Result<FinishReason, ProviderError> {
    match reason {
        "COMPLETE" | "STOP_SEQUENCE" => Ok(FinishReason::Stop),
        "MAX_TOKENS" => Ok(FinishReason::Length),
        "TOOL_CALL" => Ok(FinishReason::ToolCalls),
        "TIMEOUT" => Err(ProviderError::new(
            ProviderErrorKind::Timeout,
            detail
                .unwrap_or("Cohere stopped generating: TIMEOUT")
                .to_owned(),
        )),
        "ERROR" => Err(ProviderError::new(
            ProviderErrorKind::ServerError,
            detail
                .unwrap_or("Cohere stopped generating: ERROR")
                .to_owned(),
        )),
        other => Err(ProviderError::new(
            ProviderErrorKind::InvalidResponse,
            format!("Cohere sent an unknown finish_reason `{other}`"),
        )),
    }
}

/// Cohere's usage as OpenAI's; prompt-cache hits become `prompt_tokens_details.cached_tokens`.
pub(crate) fn cohere_usage_to_openai_usage(usage: &CohereUsage) -> Usage {
    let counts = usage
        .tokens
        .as_ref()
        .or(usage.billed_units.as_ref())
        .map(|t| (whole(t.input_tokens), whole(t.output_tokens)))
        .unwrap_or((0, 0));
    let mut out = Usage::new(counts.0, counts.1);
    if let Some(cached) = usage.cached_tokens.filter(|c| *c > 0.0) {
        out.extra.insert(
            "prompt_tokens_details".to_owned(),
            json!({"cached_tokens": cached as u64}),
        );
    }
    out
}

fn whole(n: Option<f64>) -> u64 {
    n.filter(|n| n.is_finite() && *n > 0.0)
        .map_or(0, |n| n.round() as u64)
}

/// The OpenAI `chat.completion` for a Cohere answer.
pub(crate) fn reply(response: ChatResponse, model: &str) -> Result<ChatReply, ProviderError> {
    let finish = finish_reason(&response.finish_reason, None)?;
    let text: String = response
        .message
        .content
        .iter()
        .filter_map(|c| match c {
            ContentItem::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let tool_calls: Vec<(String, String, String)> = response
        .message
        .tool_calls
        .into_iter()
        .map(|call| {
            let function = call.function.unwrap_or_default();
            (
                call.id,
                function.name.unwrap_or_default(),
                function.arguments.unwrap_or_default(),
            )
        })
        .collect();
    let content = if text.is_empty() && !tool_calls.is_empty() {
        None
    } else {
        Some(text)
    };
    let usage = response
        .usage
        .as_ref()
        .map(cohere_usage_to_openai_usage)
        .unwrap_or_else(|| Usage::new(0, 0));
    let mut completion = Completion {
        id: Some(response.id),
        model: model.to_owned(),
        content,
        tool_calls,
        finish_reason: finish,
        usage,
    }
    .into_chat_completion();
    if let Some(choice) = completion.choices.first_mut() {
        if let Some(citations) = response.message.citations.filter(|c| !c.is_empty()) {
            choice
                .message
                .extra
                .insert("citations".to_owned(), Value::Array(citations));
        }
        choice.logprobs = response.logprobs.map(|items| logprobs(&items));
    }
    if response.usage.is_none() {
        // The gateway counts tokens itself when the provider reports none.
        completion.usage = None;
    }
    let body = serde_json::to_vec(&completion).map_err(|e| {
        ProviderError::new(
            ProviderErrorKind::InvalidResponse,
            format!("cannot encode the translated completion: {e}"),
        )
    })?;
    Ok(ChatReply {
        body: Bytes::from(body),
        usage: completion.usage,
    })
}

/// Cohere's per-piece log probabilities in OpenAI's `logprobs.content` shape: one entry per
/// piece of text, its log probability the sum over the tokens that make it.
pub(crate) fn logprobs(items: &[LogprobItem]) -> Value {
    let content: Vec<Value> = items
        .iter()
        .map(|item| {
            let token = item.text.clone().unwrap_or_default();
            let logprob: f64 = item.logprobs.iter().sum();
            json!({
                "token": token,
                "logprob": logprob,
                "bytes": token.as_bytes(),
                "top_logprobs": [],
            })
        })
        .collect();
    json!({"content": content, "refusal": null})
}
