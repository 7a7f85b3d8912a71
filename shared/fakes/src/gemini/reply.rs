//! The answer to a validated request, rendered as one `GenerateContentResponse` or as the
//! events of `streamGenerateContent?alt=sse`.
//!
//! Both renderings come from the same [`Reply`]: the stream's text parts concatenate to the
//! whole answer's text, function calls arrive whole in one event (as Gemini sends them),
//! and the last event carries the finish reason with the final usage. Earlier events carry
//! the usage so far, as Gemini's do.

use crate::content::{Heard, simulated_text};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::request::{GenerateRequest, Mode};
use crate::content::{
    estimate_tokens, fingerprint, pieces, truncate_at_stop, truncate_words, value_for_schema,
    word_count,
};

pub(super) enum Reply {
    Text {
        text: String,
        finish: &'static str,
    },
    /// Function calls (name, arguments), the first with a thought signature when the model
    /// thinks (as Gemini 2.5 and later do by default).
    Calls {
        calls: Vec<(String, Value)>,
        signature: Option<String>,
    },
}

impl Reply {
    /// Function calls when functions are declared and the conversation is not answering
    /// one (unless `ANY` forces a call); text otherwise.
    pub(super) fn generate(request: &GenerateRequest) -> Self {
        let answering = request.answering_tool();
        let calls = match request.mode {
            Mode::None => false,
            Mode::Auto => !answering,
            Mode::Any => true,
        };
        if calls && !request.functions.is_empty() {
            let chosen: Vec<_> = match (request.mode, request.allowed.first()) {
                (Mode::Any, Some(name)) => request
                    .functions
                    .iter()
                    .filter(|f| &f.name == name)
                    .collect(),
                (Mode::Any, None) => request.functions.iter().take(1).collect(),
                _ => request.functions.iter().collect(),
            };
            let calls = chosen
                .into_iter()
                .map(|f| {
                    let args = f
                        .schema
                        .as_ref()
                        .map_or_else(|| json!({}), value_for_schema);
                    (f.name.clone(), args)
                })
                .collect();
            let signature = thinks(&request.model).then(|| {
                let seed = fingerprint(&[b"thought", &request.fingerprint.to_le_bytes()]);
                base64::engine::general_purpose::STANDARD.encode(seed.to_le_bytes())
            });
            return Self::Calls { calls, signature };
        }
        Self::text(request, answering)
    }

    fn text(request: &GenerateRequest, answering: bool) -> Self {
        let model = &request.model;
        let heard = if answering {
            request
                .turns
                .last()
                .map(|t| {
                    t.responses
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        } else {
            request
                .turns
                .iter()
                .rev()
                .find(|t| t.role == "user" && !t.texts.is_empty())
                .map(|t| t.texts.join(" "))
                .unwrap_or_default()
        };
        let text = simulated_text(
            model,
            request.directives.words,
            if answering {
                Heard::ToolResult(&heard)
            } else {
                Heard::Prompt(&heard)
            },
        );
        let mut text = match &request.json {
            None => text,
            Some(None) => json!({ "reply": text }).to_string(),
            Some(Some(schema)) => value_for_schema(schema).to_string(),
        };
        if let Some(cut) = truncate_at_stop(&text, &request.stop) {
            text = cut.to_owned();
        }
        let mut finish = "STOP";
        if let Some(cut) = request
            .max_output_tokens
            .and_then(|max| truncate_words(&text, max))
        {
            text = cut.to_owned();
            finish = "MAX_TOKENS";
        }
        Self::Text { text, finish }
    }

    fn tokens(&self) -> u64 {
        match self {
            Self::Text { text, .. } => word_count(text) as u64,
            Self::Calls { calls, .. } => calls
                .iter()
                .map(|(name, args)| 3 + estimate_tokens(name) + estimate_tokens(&args.to_string()))
                .sum(),
        }
    }

    fn finish(&self) -> &'static str {
        match self {
            Self::Text { finish, .. } => finish,
            Self::Calls { .. } => "STOP",
        }
    }

    /// The whole `GenerateContentResponse`.
    pub(super) fn response(&self, request: &GenerateRequest, response_id: &str) -> Value {
        let candidates: Vec<Value> = (0..request.candidate_count)
            .map(|index| {
                let mut candidate = json!({
                    "content": { "parts": self.parts(), "role": "model" },
                    "finishReason": self.finish(),
                    "index": index,
                });
                if let (Some(top), Self::Text { text, .. }) = (request.logprobs, self) {
                    let (result, average) = logprobs(text, top);
                    candidate["logprobsResult"] = result;
                    candidate["avgLogprobs"] = json!(average);
                }
                candidate
            })
            .collect();
        let completion = self.tokens() * request.candidate_count as u64;
        envelope(request, response_id, candidates, Some(completion))
    }

    /// The events of a stream, each one `GenerateContentResponse`, in order.
    pub(super) fn events(&self, request: &GenerateRequest, response_id: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut so_far = 0;
        for index in 0..request.candidate_count {
            let last_candidate = index + 1 == request.candidate_count;
            let steps: Vec<Vec<Value>> = match self {
                Self::Text { text, .. } => {
                    let pieces = pieces(text);
                    if pieces.is_empty() {
                        vec![vec![json!({ "text": "" })]]
                    } else {
                        pieces
                            .into_iter()
                            .map(|p| vec![json!({ "text": p })])
                            .collect()
                    }
                }
                Self::Calls { .. } => vec![self.parts()],
            };
            let count = steps.len();
            for (k, parts) in steps.into_iter().enumerate() {
                let mut candidate = json!({
                    "content": { "parts": parts, "role": "model" },
                    "index": index,
                });
                if k + 1 == count {
                    candidate["finishReason"] = json!(self.finish());
                }
                so_far += parts_tokens(&candidate);
                let completion = if k + 1 == count && last_candidate {
                    self.tokens() * request.candidate_count as u64
                } else {
                    so_far
                };
                events.push(envelope(
                    request,
                    response_id,
                    vec![candidate],
                    Some(completion),
                ));
            }
        }
        events
    }

    fn parts(&self) -> Vec<Value> {
        match self {
            Self::Text { text, .. } => vec![json!({ "text": text })],
            Self::Calls { calls, signature } => calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    let mut part = json!({ "functionCall": { "name": name, "args": args } });
                    if let (0, Some(signature)) = (i, signature) {
                        part["thoughtSignature"] = json!(signature);
                    }
                    part
                })
                .collect(),
        }
    }
}

/// Tokens of a streamed candidate's text so far, counted as words like the whole answer.
fn parts_tokens(candidate: &Value) -> u64 {
    candidate["content"]["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .map(|t| word_count(t) as u64)
                .sum()
        })
        .unwrap_or(0)
}

fn envelope(
    request: &GenerateRequest,
    response_id: &str,
    candidates: Vec<Value>,
    completion: Option<u64>,
) -> Value {
    let mut object = Map::new();
    object.insert("candidates".to_owned(), Value::Array(candidates));
    if !request.directives.omit_usage {
        let completion = completion.unwrap_or(0);
        object.insert(
            "usageMetadata".to_owned(),
            json!({
                "promptTokenCount": request.prompt_tokens,
                "candidatesTokenCount": completion,
                "totalTokenCount": request.prompt_tokens + completion,
                "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": request.prompt_tokens }],
            }),
        );
    }
    object.insert("modelVersion".to_owned(), json!(request.model));
    object.insert("responseId".to_owned(), json!(response_id));
    Value::Object(object)
}

/// `logprobsResult` for `text`, one decoding step per word, and the average log probability.
fn logprobs(text: &str, top: usize) -> (Value, f64) {
    let steps: Vec<(&str, f64)> = pieces(text)
        .into_iter()
        .map(|token| {
            (
                token,
                -((fingerprint(&[token.as_bytes()]) % 2000 + 1) as f64) / 1000.0,
            )
        })
        .collect();
    let candidate = |token: &str, logprob: f64, id: u64| json!({ "token": token, "tokenId": id, "logProbability": logprob });
    let chosen: Vec<Value> = steps
        .iter()
        .map(|(token, lp)| candidate(token, *lp, fingerprint(&[token.as_bytes()]) % 256_000))
        .collect();
    let top_candidates: Vec<Value> = steps
        .iter()
        .map(|(token, lp)| {
            let candidates: Vec<Value> = (0..top)
                .map(|rank| match rank {
                    0 => candidate(token, *lp, fingerprint(&[token.as_bytes()]) % 256_000),
                    _ => candidate(&format!("alt{rank}"), lp - rank as f64, rank as u64),
                })
                .collect();
            json!({ "candidates": candidates })
        })
        .collect();
    let average = if steps.is_empty() {
        0.0
    } else {
        steps.iter().map(|(_, lp)| lp).sum::<f64>() / steps.len() as f64
    };
    (
        json!({ "topCandidates": top_candidates, "chosenCandidates": chosen }),
        average,
    )
}

/// Models that think by default, and so sign their function calls.
fn thinks(model: &str) -> bool {
    model.starts_with("gemini-2.5") || model.starts_with("gemini-3")
}
