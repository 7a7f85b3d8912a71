//! Writing a non-streamed `chat.completion` from the parts every protocol has.

use bytes::Bytes;
use gateway_core::upstream::{ChatReply, ProviderError, ProviderErrorKind};
use gateway_core::wire::{ChatCompletion, Choice, FunctionCall, ResponseMessage, ToolCall, Usage};
use serde_json::Map;

use super::{FinishReason, completion_id, now_unix};

/// One answer with a single choice, as native protocols give them.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The provider's answer id, if it has one.
    pub id: Option<String>,
    pub model: String,
    /// The text, or `None` when the model only called tools.
    pub content: Option<String>,
    /// `(id, function name, JSON arguments)` in the order the model made them.
    pub tool_calls: Vec<(String, String, String)>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
}

impl Completion {
    pub fn into_chat_completion(self) -> ChatCompletion {
        let tool_calls = (!self.tool_calls.is_empty()).then(|| {
            self.tool_calls
                .into_iter()
                .map(|(id, name, arguments)| ToolCall {
                    id,
                    kind: "function".to_owned(),
                    function: Some(FunctionCall { name, arguments }),
                    extra: Map::new(),
                })
                .collect()
        });
        ChatCompletion {
            id: self.id.unwrap_or_else(completion_id),
            object: "chat.completion".to_owned(),
            created: now_unix(),
            model: self.model,
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage {
                    role: "assistant".to_owned(),
                    content: self.content,
                    refusal: None,
                    tool_calls,
                    extra: Map::new(),
                },
                finish_reason: Some(self.finish_reason.as_str().to_owned()),
                logprobs: None,
                extra: Map::new(),
            }],
            usage: Some(self.usage),
            extra: Map::new(),
        }
    }

    /// The reply the gateway forwards.
    pub fn into_reply(self) -> Result<ChatReply, ProviderError> {
        let completion = self.into_chat_completion();
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
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn a_tool_only_answer_has_null_content_and_its_calls() {
        let reply = Completion {
            id: Some("msg_1".into()),
            model: "claude".into(),
            content: None,
            tool_calls: vec![("toolu_1".into(), "f".into(), "{\"a\":1}".into())],
            finish_reason: FinishReason::ToolCalls,
            usage: Usage::new(10, 5),
        }
        .into_reply()
        .unwrap();
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(body["choices"][0]["message"]["refusal"], Value::Null);
        assert_eq!(body["choices"][0]["logprobs"], Value::Null);
        assert_eq!(
            body["choices"][0]["message"]["tool_calls"],
            json!([{"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}])
        );
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(reply.usage.unwrap().total_tokens, 15);
    }
}
