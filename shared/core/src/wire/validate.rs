//! Range and consistency checks OpenAI applies before a request reaches a model. Done once, at
//! the edge, so adapters can trust what they translate.

use super::{ChatRequest, Content, ContentPart, DataUrl, EmbeddingsRequest, Message};
use crate::error::ApiError;

/// OpenAI's limit on `stop` sequences.
const MAX_STOP_SEQUENCES: usize = 4;
/// OpenAI's limit on `n`.
const MAX_CHOICES: u32 = 128;
const MAX_TOP_LOGPROBS: u32 = 20;
const MAX_TOOLS: usize = 128;

impl ChatRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.messages.is_empty() {
            return Err(ApiError::invalid_param(
                "messages",
                "`messages` must contain at least one message.",
            )
            .with_code("empty_array"));
        }
        for (i, message) in self.messages.iter().enumerate() {
            validate_message(i, message)?;
        }
        in_range("temperature", self.temperature, 0.0, 2.0)?;
        in_range("top_p", self.top_p, 0.0, 1.0)?;
        in_range("presence_penalty", self.presence_penalty, -2.0, 2.0)?;
        in_range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?;
        if let Some(n) = self.n
            && !(1..=MAX_CHOICES).contains(&n)
        {
            return Err(ApiError::invalid_param(
                "n",
                format!("`n` must be between 1 and {MAX_CHOICES}, got {n}."),
            ));
        }
        if let Some(top) = self.top_logprobs {
            if top > MAX_TOP_LOGPROBS {
                return Err(ApiError::invalid_param(
                    "top_logprobs",
                    format!("`top_logprobs` must be between 0 and {MAX_TOP_LOGPROBS}, got {top}."),
                ));
            }
            if top > 0 && self.logprobs != Some(true) {
                return Err(ApiError::invalid_param(
                    "top_logprobs",
                    "`top_logprobs` requires `logprobs` to be true.",
                ));
            }
        }
        if let Some(stop) = &self.stop
            && stop.as_slice().len() > MAX_STOP_SEQUENCES
        {
            return Err(ApiError::invalid_param(
                "stop",
                format!("`stop` takes at most {MAX_STOP_SEQUENCES} sequences."),
            ));
        }
        if let Some(tools) = &self.tools
            && tools.len() > MAX_TOOLS
        {
            return Err(ApiError::invalid_param(
                "tools",
                format!("`tools` takes at most {MAX_TOOLS} tools."),
            ));
        }
        Ok(())
    }

    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    /// Whether the client asked for a usage chunk at the end of its stream.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    pub fn has_images(&self) -> bool {
        self.messages
            .iter()
            .filter_map(Message::content)
            .any(Content::has_image)
    }

    pub fn uses_tools(&self) -> bool {
        self.tools.as_ref().is_some_and(|t| !t.is_empty())
    }
}

/// Checks what OpenAI's schema states, and that an inline image is one any provider can take.
/// Rules its API adds in prose only (an assistant message needs content or tool calls) are
/// left to the provider, which states them in its own words.
fn validate_message(index: usize, message: &Message) -> Result<(), ApiError> {
    let Some(Content::Parts(parts)) = message.content() else {
        return Ok(());
    };
    if parts.is_empty() && !matches!(message, Message::Assistant(_)) {
        return Err(ApiError::invalid_param(
            format!("messages[{index}].content"),
            "Content parts must not be an empty list.",
        ));
    }
    for (part, content) in parts.iter().enumerate() {
        if let ContentPart::ImageUrl { image_url } = content
            && let Err(wrong) = DataUrl::parse(&image_url.url)
        {
            return Err(ApiError::invalid_param(
                format!("messages[{index}].content[{part}].image_url.url"),
                format!("Invalid image URL: {wrong}."),
            ));
        }
    }
    Ok(())
}

fn in_range(param: &str, value: Option<f64>, min: f64, max: f64) -> Result<(), ApiError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(ApiError::invalid_param(
            param,
            format!("`{param}` must be between {min} and {max}, got {v}."),
        )),
        _ => Ok(()),
    }
}

impl EmbeddingsRequest {
    /// OpenAI's embeddings request is closed: an unknown parameter is refused here rather
    /// than by the provider.
    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(name) = self.extra.keys().next() {
            return Err(ApiError::invalid_param(
                name.clone(),
                format!("Unrecognized request argument supplied: {name}"),
            )
            .with_code("unknown_parameter"));
        }
        if self.input.is_empty() {
            return Err(ApiError::invalid_param(
                "input",
                "`input` must not be an empty list.",
            ));
        }
        if self.input.len() > 2048 {
            return Err(ApiError::invalid_param(
                "input",
                "`input` takes at most 2048 items.",
            ));
        }
        if self.dimensions == Some(0) {
            return Err(ApiError::invalid_param(
                "dimensions",
                "`dimensions` must be at least 1.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::{ChatRequest, parse_json_body};

    fn request(extra: &str) -> ChatRequest {
        let body =
            format!(r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}]{extra}}}"#);
        parse_json_body(body.as_bytes()).unwrap()
    }

    #[test]
    fn temperature_seven_is_out_of_range() {
        let err = request(r#","temperature":7"#).validate().unwrap_err();
        assert_eq!(err.param.as_deref(), Some("temperature"));
    }

    #[test]
    fn empty_messages_are_rejected() {
        let req: ChatRequest = parse_json_body(br#"{"model":"m","messages":[]}"#).unwrap();
        assert_eq!(
            req.validate().unwrap_err().param.as_deref(),
            Some("messages")
        );
    }

    #[test]
    fn a_plain_request_is_valid_and_keeps_unknown_fields() {
        let req = request(r#","store":true,"metadata":{"a":"b"}"#);
        req.validate().unwrap();
        let back = serde_json::to_value(&req).unwrap();
        assert_eq!(back["store"], true);
        assert_eq!(back["metadata"]["a"], "b");
    }

    #[test]
    fn whole_numbers_written_as_floats_are_integers() {
        let req = request(r#","n":2.0,"max_tokens":1e2,"seed":-3.0"#);
        assert_eq!(
            (req.n, req.max_tokens, req.seed),
            (Some(2), Some(100), Some(-3))
        );
        let back = serde_json::to_value(&req).unwrap();
        assert_eq!(back["n"], serde_json::json!(2));
        let err = crate::wire::parse_json_body::<ChatRequest>(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":1.5}"#,
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("n"));
    }

    #[test]
    fn five_stop_sequences_are_too_many() {
        let err = request(r#","stop":["a","b","c","d","e"]"#)
            .validate()
            .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("stop"));
    }
}
