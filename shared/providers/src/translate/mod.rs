//! Building OpenAI-shaped answers out of other protocols.
//!
//! Adapters for native APIs (Anthropic, Gemini, Cohere, Bedrock, SageMaker) translate into
//! these types rather than writing JSON by hand, so every provider's answers have the same
//! shape: the same required fields, a `role` in the first streamed chunk, tool-call deltas that
//! name their index, finish reasons from OpenAI's vocabulary, usage in a closing chunk.

mod chunks;
mod completion;
mod media;
mod sse;

pub use chunks::ChunkWriter;
pub use completion::Completion;
pub use gateway_core::wire::DataUrl;
pub use media::{ImageSource, image_source};
pub use sse::sse_events;

/// OpenAI's finish reasons; native ones map onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
        }
    }
}

/// A fresh completion id in OpenAI's style, for protocols whose answers carry none.
pub fn completion_id() -> String {
    format!("chatcmpl-{:032x}", rand::random::<u128>())
}

/// Seconds since the Unix epoch, for `created`.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
