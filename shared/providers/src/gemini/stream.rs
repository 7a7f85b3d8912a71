//! `streamGenerateContent?alt=sse` as OpenAI chunks.
//!
//! Every SSE event is a whole `GenerateContentResponse` holding the next piece of the answer.
//! The translation is a small state machine, independent of the network so it can be tested
//! with recorded events: the first event opens the answer with the `role` chunk; text parts
//! become content deltas; a `functionCall` part arrives whole and becomes the tool call's
//! start and one arguments delta (with the same id it would have unstreamed); Gemini repeats
//! `usageMetadata` as it goes, so the last one counts. When the stream ends the finish chunk
//! and the usage chunk follow. A stream that ends before Gemini gave a finish reason was cut
//! off, and is reported as such.

use bytes::Bytes;
use gateway_core::upstream::{ProviderError, ProviderErrorKind};

use super::errors::error_from_google;
use super::response::{arguments_json, finish_reason, tool_call_id, usage_from_gemini};
use super::wire::{GenerateContentResponse, UsageMetadata};
use crate::translate::{ChunkWriter, FinishReason};

/// The translation of one stream.
#[derive(Debug)]
pub struct StreamTranslator {
    model: String,
    writer: Option<ChunkWriter>,
    tool_calls: u32,
    gemini_finish: Option<String>,
    blocked: bool,
    usage: Option<UsageMetadata>,
    secret: Option<String>,
}

impl StreamTranslator {
    /// `secret` is scrubbed from any error message the stream carries.
    pub fn new(model: impl Into<String>, secret: Option<String>) -> Self {
        StreamTranslator {
            model: model.into(),
            writer: None,
            tool_calls: 0,
            gemini_finish: None,
            blocked: false,
            usage: None,
            secret,
        }
    }

    /// The chunks for one event's `data`.
    pub fn event(&mut self, data: &str) -> Result<Vec<Bytes>, ProviderError> {
        if serde_json::from_str::<serde_json::Value>(data).is_ok_and(|v| v.get("error").is_some()) {
            let mut error = error_from_google(None, None, data.as_bytes(), self.secret.as_deref());
            if !error.is_retryable() {
                error.kind = ProviderErrorKind::StreamInterrupted;
            }
            return Err(error);
        }
        let event: GenerateContentResponse = serde_json::from_str(data).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::InvalidResponse,
                format!("a Gemini stream event is not a GenerateContentResponse ({e})"),
            )
        })?;
        let mut chunks = Vec::new();
        let opening = self.writer.is_none();
        let writer = self
            .writer
            .get_or_insert_with(|| ChunkWriter::new(event.response_id.clone(), self.model.clone()));
        if opening {
            chunks.push(writer.role());
        }
        if let Some(usage) = event.usage_metadata {
            self.usage = Some(usage);
        }
        if event.candidates.is_empty()
            && event
                .prompt_feedback
                .as_ref()
                .is_some_and(|f| f.block_reason.is_some())
        {
            self.blocked = true;
        }
        // One candidate per stream (`n` > 1 is refused before the call).
        let Some(candidate) = event.candidates.into_iter().next() else {
            return Ok(chunks);
        };
        for part in candidate.content.into_iter().flat_map(|c| c.parts) {
            if part.thought == Some(true) {
                continue;
            }
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                chunks.push(writer.text(&text));
            }
            if let Some(call) = part.function_call {
                let index = self.tool_calls;
                let arguments = arguments_json(call.args.as_ref());
                let id = tool_call_id(
                    call.id.as_deref(),
                    index as usize,
                    &call.name,
                    &arguments,
                    part.thought_signature.as_deref(),
                );
                chunks.push(writer.tool_call_start(index, &id, &call.name));
                chunks.push(writer.tool_call_arguments(index, &arguments));
                self.tool_calls += 1;
            }
        }
        if let Some(reason) = candidate.finish_reason {
            self.gemini_finish = Some(reason);
        }
        Ok(chunks)
    }

    /// The closing chunks once the stream has ended, or the error of a stream cut short.
    pub fn end(&mut self) -> Result<Vec<Bytes>, ProviderError> {
        let finish = match (&self.gemini_finish, self.blocked) {
            (Some(reason), _) => finish_reason(Some(reason), self.tool_calls > 0),
            (None, true) => FinishReason::ContentFilter,
            (None, false) => {
                return Err(ProviderError::new(
                    ProviderErrorKind::StreamInterrupted,
                    "the Gemini stream ended before the answer was finished",
                ));
            }
        };
        let Some(writer) = &self.writer else {
            return Err(ProviderError::new(
                ProviderErrorKind::StreamInterrupted,
                "the Gemini stream ended without any event",
            ));
        };
        let mut chunks = vec![writer.finish(finish)];
        if let Some(usage) = &self.usage {
            chunks.push(writer.usage(&usage_from_gemini(usage)));
        }
        Ok(chunks)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn json(b: &Bytes) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn a_stream_cut_before_its_finish_is_an_error() {
        let mut t = StreamTranslator::new("m", None);
        t.event(r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}]}"#)
            .unwrap();
        assert_eq!(
            t.end().unwrap_err().kind,
            ProviderErrorKind::StreamInterrupted
        );
    }

    #[test]
    fn an_error_event_ends_the_stream_with_its_kind() {
        let mut t = StreamTranslator::new("m", None);
        let e = t
            .event(r#"{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}"#)
            .unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::Overloaded);
    }

    #[test]
    fn the_last_usage_counts() {
        let mut t = StreamTranslator::new("m", None);
        let first = t
            .event(r#"{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":5}}"#)
            .unwrap();
        assert_eq!(json(&first[0])["choices"][0]["delta"]["role"], "assistant");
        t.event(r#"{"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"thoughtsTokenCount":3}}"#)
            .unwrap();
        let end = t.end().unwrap();
        assert_eq!(json(&end[0])["choices"][0]["finish_reason"], "stop");
        assert_eq!(json(&end[1])["usage"]["completion_tokens"], 5);
        assert_eq!(json(&end[1])["usage"]["total_tokens"], 10);
    }
}
