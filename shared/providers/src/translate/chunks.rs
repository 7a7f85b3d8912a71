//! Writing `chat.completion.chunk` objects, one per call, as the JSON the gateway relays.

use bytes::Bytes;
use gateway_core::wire::Usage;
use serde::Serialize;

use super::{FinishReason, completion_id, now_unix};

/// Writes the chunks of one streamed answer; every chunk shares its id, `created` and model.
#[derive(Debug, Clone)]
pub struct ChunkWriter {
    id: String,
    created: i64,
    model: String,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: Vec<ChoiceDelta<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
}

#[derive(Serialize)]
struct ChoiceDelta<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'static str>,
    logprobs: Option<()>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

impl ChunkWriter {
    /// `id` is the provider's own answer id where it has one; otherwise a fresh one is made.
    pub fn new(id: Option<String>, model: impl Into<String>) -> Self {
        ChunkWriter {
            id: id.unwrap_or_else(completion_id),
            created: now_unix(),
            model: model.into(),
        }
    }

    /// The first chunk of every answer: the role, with empty content (as OpenAI sends it).
    pub fn role(&self) -> Bytes {
        self.delta(Delta {
            role: Some("assistant"),
            content: Some(""),
            tool_calls: None,
        })
    }

    pub fn text(&self, text: &str) -> Bytes {
        self.delta(Delta {
            content: Some(text),
            ..Delta::default()
        })
    }

    /// The first delta of tool call number `index` (0-based, in the order the model made
    /// them): its id and function name, with empty arguments.
    pub fn tool_call_start(&self, index: u32, id: &str, name: &str) -> Bytes {
        self.delta(Delta {
            tool_calls: Some([ToolCallDelta {
                index,
                id: Some(id),
                kind: Some("function"),
                function: FunctionDelta {
                    name: Some(name),
                    arguments: "",
                },
            }]),
            ..Delta::default()
        })
    }

    /// A fragment of tool call `index`'s JSON arguments; the fragments concatenate to them.
    pub fn tool_call_arguments(&self, index: u32, fragment: &str) -> Bytes {
        self.delta(Delta {
            tool_calls: Some([ToolCallDelta {
                index,
                id: None,
                kind: None,
                function: FunctionDelta {
                    name: None,
                    arguments: fragment,
                },
            }]),
            ..Delta::default()
        })
    }

    /// The chunk that ends the choice.
    pub fn finish(&self, reason: FinishReason) -> Bytes {
        self.write(
            vec![ChoiceDelta {
                index: 0,
                delta: Delta::default(),
                finish_reason: Some(reason.as_str()),
                logprobs: None,
            }],
            None,
        )
    }

    /// The usage-only chunk that closes a stream (`choices` empty), as OpenAI sends it when
    /// `stream_options.include_usage` is set.
    pub fn usage(&self, usage: &Usage) -> Bytes {
        self.write(Vec::new(), Some(usage))
    }

    fn delta(&self, delta: Delta<'_>) -> Bytes {
        self.write(
            vec![ChoiceDelta {
                index: 0,
                delta,
                finish_reason: None,
                logprobs: None,
            }],
            None,
        )
    }

    fn write(&self, choices: Vec<ChoiceDelta<'_>>, usage: Option<&Usage>) -> Bytes {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        // Serialising these plain structs cannot fail: no maps with non-string keys, no
        // user-defined Serialize impls.
        Bytes::from(serde_json::to_vec(&chunk).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn parse(b: &Bytes) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn chunks_have_openais_shape() {
        let w = ChunkWriter::new(Some("msg_1".into()), "claude");
        let role = parse(&w.role());
        assert_eq!(role["id"], "msg_1");
        assert_eq!(role["object"], "chat.completion.chunk");
        assert_eq!(role["model"], "claude");
        assert_eq!(
            role["choices"][0],
            json!({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"logprobs":null})
        );
        let start = parse(&w.tool_call_start(1, "call_9", "get_weather"));
        assert_eq!(
            start["choices"][0]["delta"]["tool_calls"][0],
            json!({"index":1,"id":"call_9","type":"function","function":{"name":"get_weather","arguments":""}})
        );
        let args = parse(&w.tool_call_arguments(1, "{\"ci"));
        assert_eq!(
            args["choices"][0]["delta"]["tool_calls"][0],
            json!({"index":1,"function":{"arguments":"{\"ci"}})
        );
        let fin = parse(&w.finish(FinishReason::ToolCalls));
        assert_eq!(fin["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(fin["choices"][0]["delta"], json!({}));
        let usage = parse(&w.usage(&Usage::new(3, 4)));
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 7);
    }

    #[test]
    fn ids_are_made_when_the_provider_has_none() {
        let a = parse(&ChunkWriter::new(None, "m").role());
        let b = parse(&ChunkWriter::new(None, "m").role());
        assert!(a["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_ne!(a["id"], b["id"]);
    }
}
