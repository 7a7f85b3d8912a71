//! The answer to a valid Converse request, as one Converse response or as the events of a
//! ConverseStream; both come from one [`Reply`], so a stream's deltas always add up to the
//! whole answer.
//!
//! With tools offered (and not answering a tool result), the model says one sentence and
//! calls a tool: text in content block 0 and the tool use in block 1, as Claude on Bedrock
//! does, so block indexes and tool-call indexes differ as they do for real.

use crate::content::{Heard, simulated_text};
use serde_json::{Value, json};

use super::converse::{Choice, Converse};
use crate::content::{
    alphanumeric, estimate_tokens, fragments, pieces, truncate_at_stop, truncate_words,
    value_for_schema,
};

const ARGUMENT_FRAGMENT_CHARS: usize = 8;

pub(super) struct Reply {
    text: String,
    /// `(toolUseId, name, input)`.
    tool_uses: Vec<(String, String, Value)>,
    stop_reason: &'static str,
    input_tokens: u64,
    output_tokens: u64,
    usage: bool,
}

impl Reply {
    pub(super) fn generate(request: &Converse) -> Self {
        let model = &request.model;
        let calls_tool = !request.tools.is_empty()
            && (request.choice != Choice::Auto || request.tool_results.is_none());
        if calls_tool {
            let (name, schema) = match &request.choice {
                Choice::Tool(name) => request
                    .tools
                    .iter()
                    .find(|(n, _)| n == name)
                    .cloned()
                    .unwrap_or_else(|| request.tools[0].clone()),
                _ => request.tools[0].clone(),
            };
            let id = format!("tooluse_{}", alphanumeric(request.fingerprint, 22));
            let input = value_for_schema(&schema);
            let text = format!("Calling {name}.");
            let output_tokens = estimate_tokens(&text) + estimate_tokens(&input.to_string());
            return Reply {
                text,
                tool_uses: vec![(id, name, input)],
                stop_reason: "tool_use",
                input_tokens: request.input_chars.div_ceil(4) as u64,
                output_tokens,
                usage: !request.directives.omit_usage,
            };
        }
        let mut text = simulated_text(
            model,
            request.directives.words,
            match &request.tool_results {
                Some(result) => Heard::ToolResult(result),
                None => Heard::Prompt(&request.prompt),
            },
        );
        let mut stop_reason = "end_turn";
        if let Some(cut) = truncate_at_stop(&text, &request.stop) {
            text = cut.to_owned();
            stop_reason = "stop_sequence";
        }
        if let Some(cut) = request
            .max_tokens
            .and_then(|max| truncate_words(&text, max))
        {
            text = cut.to_owned();
            stop_reason = "max_tokens";
        }
        Reply {
            output_tokens: estimate_tokens(&text),
            text,
            tool_uses: Vec::new(),
            stop_reason,
            input_tokens: request.input_chars.div_ceil(4) as u64,
            usage: !request.directives.omit_usage,
        }
    }

    fn usage(&self) -> Value {
        json!({
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens + self.output_tokens,
        })
    }

    /// The Converse response body. `usage` is a required member of Converse's answer, so
    /// `omit_usage` only drops the stream's `metadata` event.
    pub(super) fn converse(&self) -> Value {
        let mut content = Vec::new();
        if !self.text.is_empty() {
            content.push(json!({ "text": self.text }));
        }
        for (id, name, input) in &self.tool_uses {
            content.push(json!({ "toolUse": { "toolUseId": id, "name": name, "input": input } }));
        }
        json!({
            "output": { "message": { "role": "assistant", "content": content } },
            "stopReason": self.stop_reason,
            "usage": self.usage(),
            "metrics": { "latencyMs": 1 },
        })
    }

    /// The ConverseStream events as `(event type, payload)`, in order.
    pub(super) fn events(&self) -> Vec<(&'static str, Value)> {
        let mut events = vec![("messageStart", json!({ "role": "assistant" }))];
        let mut index = 0;
        if !self.text.is_empty() {
            for piece in pieces(&self.text) {
                events.push((
                    "contentBlockDelta",
                    json!({ "contentBlockIndex": index, "delta": { "text": piece } }),
                ));
            }
            events.push(("contentBlockStop", json!({ "contentBlockIndex": index })));
            index += 1;
        }
        for (id, name, input) in &self.tool_uses {
            events.push((
                "contentBlockStart",
                json!({ "contentBlockIndex": index, "start": { "toolUse": { "toolUseId": id, "name": name } } }),
            ));
            let arguments = input.to_string();
            for fragment in fragments(&arguments, ARGUMENT_FRAGMENT_CHARS) {
                events.push((
                    "contentBlockDelta",
                    json!({ "contentBlockIndex": index, "delta": { "toolUse": { "input": fragment } } }),
                ));
            }
            events.push(("contentBlockStop", json!({ "contentBlockIndex": index })));
            index += 1;
        }
        events.push(("messageStop", json!({ "stopReason": self.stop_reason })));
        if self.usage {
            events.push((
                "metadata",
                json!({ "usage": self.usage(), "metrics": { "latencyMs": 1 } }),
            ));
        }
        events
    }
}
