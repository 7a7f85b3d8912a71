//! OpenAI wire types: what clients send to `/v1` and what they get back.

mod chat;
mod embeddings;
mod models;
mod parse;
mod validate;

pub use chat::{
    AssistantMessage, ChatCompletion, ChatRequest, Choice, ChoiceDeltaView, ChunkView, Content,
    ContentPart, DeltaView, FunctionCall, FunctionDefinition, FunctionMessage, ImageUrl,
    InstructionMessage, JsonSchemaFormat, Message, ResponseFormat, ResponseMessage, Stop,
    StreamOptions, Tool, ToolCall, ToolChoice, ToolChoiceMode, ToolMessage, UserMessage,
};
pub use embeddings::{
    EmbeddingData, EmbeddingInput, EmbeddingVector, EmbeddingsRequest, EmbeddingsResponse,
    EmbeddingsUsage, EncodingFormat,
};
pub use models::{ModelList, ModelObject};
pub use parse::parse_json_body;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            extra: Map::new(),
        }
    }

    /// Prompt tokens the provider served from its own prompt cache, where it says so.
    pub fn cached_prompt_tokens(&self) -> u64 {
        self.extra
            .get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }
}

/// For fields whose schema allows a value but not `null`: absent is `None`, `null` is an error.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
