//! ConverseStream events as OpenAI `chat.completion.chunk`s.
//!
//! Bedrock numbers content blocks across text and tool use; OpenAI numbers tool calls only,
//! so each `toolUse` block start is given the next tool-call index and its input fragments
//! follow under that index. The finish reason arrives in `messageStop` and the usage after
//! it in `metadata`, in the order the gateway's relay expects them.

use std::collections::HashMap;

use aws_sdk_bedrockruntime::types::{ContentBlockDelta, ContentBlockStart, ConverseStreamOutput};
use bytes::Bytes;

use super::response::{stop_reason_to_finish_reason, token_usage_to_usage};
use crate::translate::ChunkWriter;

/// Where one stream is; fed its events in order.
pub(crate) struct StreamTranslator {
    writer: ChunkWriter,
    started: bool,
    /// Bedrock content block index -> (OpenAI tool-call index, whether arguments came).
    tools: HashMap<i32, (u32, bool)>,
    finished: bool,
}

impl StreamTranslator {
    pub(crate) fn new(model: &str) -> Self {
        StreamTranslator {
            writer: ChunkWriter::new(None, model),
            started: false,
            tools: HashMap::new(),
            finished: false,
        }
    }

    /// Whether `messageStop` was seen: a stream that ends before it was cut short.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// The chunks one event becomes (often none, sometimes two).
    pub(crate) fn event(&mut self, event: &ConverseStreamOutput) -> Vec<Bytes> {
        let mut out = Vec::new();
        if !self.started && !matches!(event, ConverseStreamOutput::Metadata(_)) {
            self.started = true;
            out.push(self.writer.role());
        }
        match event {
            ConverseStreamOutput::ContentBlockStart(start) => {
                if let Some(ContentBlockStart::ToolUse(tool)) = start.start() {
                    let index = self.tools.len() as u32;
                    self.tools
                        .insert(start.content_block_index(), (index, false));
                    out.push(
                        self.writer
                            .tool_call_start(index, tool.tool_use_id(), tool.name()),
                    );
                }
            }
            ConverseStreamOutput::ContentBlockDelta(delta) => match delta.delta() {
                Some(ContentBlockDelta::Text(text)) if !text.is_empty() => {
                    out.push(self.writer.text(text));
                }
                Some(ContentBlockDelta::ToolUse(tool)) if !tool.input().is_empty() => {
                    if let Some((index, sent)) = self.tools.get_mut(&delta.content_block_index()) {
                        *sent = true;
                        out.push(self.writer.tool_call_arguments(*index, tool.input()));
                    }
                }
                _ => {}
            },
            ConverseStreamOutput::ContentBlockStop(stop) => {
                // A tool called without input still has arguments: `{}`, as in a
                // non-streamed answer.
                if let Some((index, sent)) = self.tools.get_mut(&stop.content_block_index())
                    && !*sent
                {
                    *sent = true;
                    out.push(self.writer.tool_call_arguments(*index, "{}"));
                }
            }
            ConverseStreamOutput::MessageStop(stop) => {
                self.finished = true;
                out.push(
                    self.writer
                        .finish(stop_reason_to_finish_reason(stop.stop_reason())),
                );
            }
            ConverseStreamOutput::Metadata(metadata) => {
                if let Some(usage) = metadata.usage() {
                    out.push(self.writer.usage(&token_usage_to_usage(usage)));
                }
            }
            _ => {}
        }
        out
    }
}
