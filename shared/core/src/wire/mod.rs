//! OpenAI wire types: what clients send to `/v1` and what they get back.

mod chat;
mod data_url;
mod embeddings;
mod models;
mod parse;
mod validate;

pub use chat::{
    AssistantMessage, ChatCompletion, ChatRequest, Choice, ChoiceDeltaView, ChunkView,
    CompletionView, Content, ContentPart, DeltaView, FunctionCall, FunctionDefinition,
    FunctionMessage, ImageUrl, InstructionMessage, JsonSchemaFormat, Message, ResponseFormat,
    ResponseMessage, Stop, StreamOptions, Tool, ToolCall, ToolChoice, ToolChoiceMode, ToolMessage,
    UserMessage,
};
pub use data_url::DataUrl;
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

/// JSON Schema's `integer` includes `110.0`; serde's integers do not. These accept any whole
/// number in range, so what OpenAI's schema allows is allowed here, and send it on as an integer.
mod whole {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};
    use serde_json::Number;

    fn whole(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                    .map(|f| f as i128)
            })
    }

    fn convert<T: TryFrom<i128>, E: Error>(n: &Number, what: &str) -> Result<T, E> {
        whole(n)
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| E::custom(format!("expected {what}, got {n}")))
    }

    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Option::<Number>::deserialize(d)?
            .map(|n| convert(&n, "a whole number from 0 to 4294967295"))
            .transpose()
    }

    /// Like `opt_u32`, but `null` is an error (absent is still `None`, through `default`).
    pub fn some_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        convert(
            &Number::deserialize(d)?,
            "a whole number from 0 to 4294967295",
        )
        .map(Some)
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<Number>::deserialize(d)?
            .map(|n| convert(&n, "a whole number within the 64-bit signed range"))
            .transpose()
    }
}
