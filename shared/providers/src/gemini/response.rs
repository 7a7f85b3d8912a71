//! A Gemini `GenerateContentResponse` as an OpenAI `chat.completion`, and the pieces the
//! stream translation shares with it: finish reasons, usage and tool-call ids.
//!
//! - Each candidate is a choice (`n` > 1 asks for `candidateCount`).
//! - Text parts are the content; thought summaries (`thought: true`) are not part of the answer.
//! - `functionCall` parts are tool calls. Gemini gives them no ids, so each gets one derived
//!   from its position, name and arguments: the same answer has the same ids streamed or not.
//!   A part's thought signature is appended to the id (`call_…__thought__<signature>`):
//!   clients send ids back unchanged, so the signature returns to Gemini with the call, as
//!   Gemini requires for thinking models, through any client.
//! - A prompt Gemini blocks (`promptFeedback.blockReason`, no candidates) is answered like any
//!   filtered answer: one choice without content, `finish_reason: "content_filter"`.
//! - `usageMetadata`: prompt tokens include tool-use prompt tokens, completion tokens include
//!   thinking tokens (both are billed as such); cached tokens go to
//!   `prompt_tokens_details.cached_tokens`, thinking tokens also to
//!   `completion_tokens_details.reasoning_tokens`.

use bytes::Bytes;
use gateway_core::upstream::{ChatReply, ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatCompletion, Choice, FunctionCall, ResponseMessage, ToolCall, Usage};
use serde_json::{Map, Value, json};

use super::wire::{Candidate, GenerateContentResponse, LogprobsResult, UsageMetadata};
use crate::translate::{FinishReason, completion_id, now_unix};

/// The OpenAI completion for a whole Gemini answer.
pub fn chat_completion(response: GenerateContentResponse, model: &str) -> ChatCompletion {
    let mut choices: Vec<Choice> = response
        .candidates
        .iter()
        .enumerate()
        .map(|(position, candidate)| choice(candidate, position))
        .collect();
    if choices.is_empty() {
        choices.push(blocked_choice());
    }
    choices.sort_by_key(|c| c.index);
    ChatCompletion {
        id: response.response_id.unwrap_or_else(completion_id),
        object: "chat.completion".to_owned(),
        created: now_unix(),
        model: model.to_owned(),
        choices,
        // No usage from Gemini leaves the counting to the gateway, rather than claiming zero.
        usage: response.usage_metadata.as_ref().map(usage_from_gemini),
        extra: Map::new(),
    }
}

/// The reply the gateway forwards.
pub fn chat_reply(
    response: GenerateContentResponse,
    model: &str,
) -> Result<ChatReply, ProviderError> {
    let completion = chat_completion(response, model);
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

fn choice(candidate: &Candidate, position: usize) -> Choice {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for part in candidate.content.iter().flat_map(|c| &c.parts) {
        if part.thought == Some(true) {
            continue;
        }
        if let Some(t) = &part.text {
            text.push_str(t);
        }
        if let Some(call) = &part.function_call {
            let arguments = arguments_json(call.args.as_ref());
            let id = tool_call_id(
                call.id.as_deref(),
                tool_calls.len(),
                &call.name,
                &arguments,
                part.thought_signature.as_deref(),
            );
            tool_calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: Some(FunctionCall {
                    name: call.name.clone(),
                    arguments,
                }),
                extra: Map::new(),
            });
        }
    }
    let finish = finish_reason(candidate.finish_reason.as_deref(), !tool_calls.is_empty());
    let content = (!text.is_empty() || tool_calls.is_empty()).then_some(text);
    Choice {
        index: candidate.index.unwrap_or(position as u32),
        message: ResponseMessage {
            role: "assistant".to_owned(),
            content: if finish == FinishReason::ContentFilter && content.as_deref() == Some("") {
                None
            } else {
                content
            },
            refusal: None,
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            extra: Map::new(),
        },
        finish_reason: Some(finish.as_str().to_owned()),
        logprobs: candidate.logprobs_result.as_ref().map(logprobs_from_gemini),
        extra: Map::new(),
    }
}

/// The one choice of an answer whose prompt Gemini refused to answer.
fn blocked_choice() -> Choice {
    Choice {
        index: 0,
        message: ResponseMessage {
            role: "assistant".to_owned(),
            content: None,
            refusal: None,
            tool_calls: None,
            extra: Map::new(),
        },
        finish_reason: Some(FinishReason::ContentFilter.as_str().to_owned()),
        logprobs: None,
        extra: Map::new(),
    }
}

/// OpenAI's finish reason for Gemini's. `STOP` after function calls is `tool_calls`;
/// every safety, recitation or blocklist stop is `content_filter`.
pub fn finish_reason(gemini: Option<&str>, called_tools: bool) -> FinishReason {
    match gemini {
        Some("MAX_TOKENS") => FinishReason::Length,
        Some(
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "LANGUAGE"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION",
        ) => FinishReason::ContentFilter,
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

pub fn usage_from_gemini(metadata: &UsageMetadata) -> Usage {
    let prompt = metadata.prompt_token_count + metadata.tool_use_prompt_token_count;
    let completion = metadata.candidates_token_count + metadata.thoughts_token_count;
    let mut usage = Usage::new(prompt, completion);
    if metadata.cached_content_token_count > 0 {
        usage.extra.insert(
            "prompt_tokens_details".to_owned(),
            json!({ "cached_tokens": metadata.cached_content_token_count }),
        );
    }
    if metadata.thoughts_token_count > 0 {
        usage.extra.insert(
            "completion_tokens_details".to_owned(),
            json!({ "reasoning_tokens": metadata.thoughts_token_count }),
        );
    }
    usage
}

/// Gemini's arguments object as the JSON text OpenAI carries.
pub fn arguments_json(args: Option<&Value>) -> String {
    match args {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// Between a tool call's id and the thought signature it carries.
const SIGNATURE_SEPARATOR: &str = "__thought__";

/// The id of a tool call: Gemini's own if it gave one, else one derived from the call (see
/// [`derived_call_id`]); followed by the part's thought signature, if any, so that clients
/// send it back unchanged with the call (Gemini needs it to continue its reasoning).
pub fn tool_call_id(
    gemini_id: Option<&str>,
    position: usize,
    name: &str,
    arguments: &str,
    thought_signature: Option<&str>,
) -> String {
    let id = gemini_id
        .map(str::to_owned)
        .unwrap_or_else(|| derived_call_id(position, name, arguments));
    match thought_signature.filter(|s| !s.is_empty()) {
        Some(signature) => format!("{id}{SIGNATURE_SEPARATOR}{signature}"),
        None => id,
    }
}

/// The thought signature a tool call id carries, if any.
pub fn thought_signature_of(tool_call_id: &str) -> Option<&str> {
    tool_call_id
        .split_once(SIGNATURE_SEPARATOR)
        .map(|(_, signature)| signature)
        .filter(|s| !s.is_empty())
}

/// `call_` and 24 hex digits of an FNV-1a hash of the call's position, name and arguments:
/// stable across retries and between streamed and whole answers.
pub fn derived_call_id(position: usize, name: &str, arguments: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = |seed: u64| {
        let mut h = OFFSET ^ seed;
        for part in [
            &position.to_le_bytes()[..],
            name.as_bytes(),
            &[0xff],
            arguments.as_bytes(),
        ] {
            for &byte in part {
                h = (h ^ u64::from(byte)).wrapping_mul(PRIME);
            }
        }
        h
    };
    let (a, b) = (hash(0), hash(1));
    format!("call_{a:016x}{:08x}", b >> 32)
}

/// `logprobsResult` as OpenAI's `logprobs`: one entry per chosen token, with its
/// alternatives where Gemini gave them.
fn logprobs_from_gemini(result: &LogprobsResult) -> Value {
    let entry = |token: &str, logprob: f64| json!({ "token": token, "logprob": logprob, "bytes": token.as_bytes() });
    let content: Vec<Value> = result
        .chosen_candidates
        .iter()
        .enumerate()
        .map(|(step, chosen)| {
            let mut item = entry(&chosen.token, chosen.log_probability);
            let top: Vec<Value> = result
                .top_candidates
                .get(step)
                .map(|t| {
                    t.candidates
                        .iter()
                        .map(|c| entry(&c.token, c.log_probability))
                        .collect()
                })
                .unwrap_or_default();
            item["top_logprobs"] = Value::Array(top);
            item
        })
        .collect();
    json!({ "content": content, "refusal": null })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = derived_call_id(0, "f", "{}");
        assert_eq!(a, derived_call_id(0, "f", "{}"));
        assert_ne!(a, derived_call_id(1, "f", "{}"));
        assert!(a.starts_with("call_") && a.len() == 29, "{a}");
    }

    #[test]
    fn a_thought_signature_travels_in_the_id_and_back() {
        let id = tool_call_id(None, 0, "f", "{}", Some("CiQB+sig="));
        assert!(id.starts_with("call_"));
        assert_eq!(thought_signature_of(&id), Some("CiQB+sig="));
        assert_eq!(thought_signature_of(&derived_call_id(0, "f", "{}")), None);
        assert_eq!(tool_call_id(Some("g1"), 0, "f", "{}", None), "g1");
    }

    #[test]
    fn finish_reasons_follow_openai() {
        assert_eq!(finish_reason(Some("STOP"), true), FinishReason::ToolCalls);
        assert_eq!(finish_reason(Some("STOP"), false), FinishReason::Stop);
        assert_eq!(
            finish_reason(Some("MAX_TOKENS"), false),
            FinishReason::Length
        );
        assert_eq!(
            finish_reason(Some("SPII"), false),
            FinishReason::ContentFilter
        );
    }
}
