//! What `auto` needs to know about a request before it ranks models: its size in tokens
//! (counted with the real tokenizer), how long the answer is likely to be, what capabilities it
//! cannot do without, and how hard it looks.
//!
//! Difficulty is a heuristic over the text (length, reasoning and code markers, structured
//! output, tools, conversation depth); a learned predictor can read the same analysis through
//! [`super::QualityPredictor`].

use crate::catalog::Capability;
use crate::tokens;
use crate::wire::{ChatRequest, Message, ResponseFormat};

/// Answer length assumed when the request sets no limit: a few paragraphs, more for a long
/// prompt, bounded.
const BASE_OUTPUT_TOKENS: u64 = 256;
const MAX_ESTIMATED_OUTPUT_TOKENS: u64 = 2_048;

/// Words that mark a request as asking for reasoning rather than recall.
const REASONING_MARKERS: &[&str] = &[
    "prove",
    "proof",
    "step by step",
    "derive",
    "analy",
    "algorithm",
    "optimi",
    "theorem",
    "debug",
    "refactor",
    "architecture",
    "trade-off",
    "tradeoff",
    "explain why",
    "compare",
    "evaluate",
    "design a",
    "complexity",
];
const CODE_MARKERS: &[&str] = &[
    "```",
    "fn ",
    "def ",
    "class ",
    "function ",
    "#include",
    "select ",
];
const MATH_MARKERS: &[&str] = &[
    "integral",
    "equation",
    "\\frac",
    "matrix",
    "probability",
    "∑",
    "∫",
];

#[derive(Debug, Clone, PartialEq)]
pub struct RequestAnalysis {
    pub prompt_tokens: u64,
    /// Likely completion tokens, all choices together.
    pub expected_output_tokens: u64,
    /// `max_completion_tokens` / `max_tokens`, when set.
    pub requested_max_output: Option<u64>,
    pub needs: Vec<Capability>,
    /// 0 (trivial) to 1 (hard).
    pub difficulty: f64,
}

/// Analyses a request. Counting tokens is CPU work proportional to the prompt: callers on an
/// async runtime run it on the blocking pool for large prompts.
pub fn analyse(request: &ChatRequest) -> RequestAnalysis {
    let mut prompt_tokens = tokens::count_prompt(&request.messages);
    if let Some(tools) = &request.tools {
        prompt_tokens += serde_json::to_string(tools).map_or(0, |t| tokens::count_text(&t));
    }
    let requested_max_output = request
        .max_completion_tokens
        .or(request.max_tokens)
        .and_then(|n| u64::try_from(n).ok());
    let choices = u64::from(request.n.unwrap_or(1).max(1));
    let per_choice = (BASE_OUTPUT_TOKENS + prompt_tokens / 4).min(MAX_ESTIMATED_OUTPUT_TOKENS);
    let per_choice = requested_max_output.map_or(per_choice, |cap| per_choice.min(cap));
    RequestAnalysis {
        prompt_tokens,
        expected_output_tokens: per_choice * choices,
        requested_max_output,
        needs: required_capabilities(request),
        difficulty: difficulty(request, prompt_tokens),
    }
}

/// The catalog capabilities a request cannot do without.
pub fn required_capabilities(request: &ChatRequest) -> Vec<Capability> {
    let mut needs = Vec::new();
    if request.uses_tools() {
        needs.push(Capability::Tools);
    }
    if request.has_images() {
        needs.push(Capability::Vision);
    }
    match request.response_format {
        Some(ResponseFormat::JsonObject) => needs.push(Capability::JsonMode),
        Some(ResponseFormat::JsonSchema { .. }) => needs.push(Capability::JsonSchema),
        _ => {}
    }
    if request.is_stream() {
        needs.push(Capability::Streaming);
    }
    if request.logprobs == Some(true) {
        needs.push(Capability::Logprobs);
    }
    needs
}

/// The task a request sets: the text of its last user message.
pub fn task_text(request: &ChatRequest) -> String {
    let mut task = String::new();
    if let Some(last_user) = request
        .messages
        .iter()
        .rev()
        .find(|m| matches!(m, Message::User(_)))
    {
        last_user.for_each_text(|t| task.push_str(t));
    }
    task
}

fn difficulty(request: &ChatRequest, prompt_tokens: u64) -> f64 {
    // 10 tokens or fewer count as nothing, 10,000 or more as fully long.
    let length = ((prompt_tokens.max(1) as f64).log10() - 1.0) / 3.0;
    let mut score = 0.3 * length.clamp(0.0, 1.0);

    let task = task_text(request).to_lowercase();
    let hits = |markers: &[&str]| markers.iter().filter(|m| task.contains(*m)).count() as f64;
    score += (0.1 * hits(REASONING_MARKERS)).min(0.4);
    if hits(CODE_MARKERS) > 0.0 {
        score += 0.15;
    }
    if hits(MATH_MARKERS) > 0.0 {
        score += 0.1;
    }
    if request.uses_tools() {
        score += 0.1;
    }
    if matches!(
        request.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ) {
        score += 0.05;
    }
    if request.messages.len() > 6 {
        score += 0.05;
    }
    score.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse_json_body;

    fn request(body: &str) -> ChatRequest {
        parse_json_body(body.as_bytes()).unwrap()
    }

    #[test]
    fn a_greeting_is_easy_short_and_needs_nothing() {
        let a = analyse(&request(
            r#"{"model":"auto","messages":[{"role":"user","content":"Hello, world!"}]}"#,
        ));
        assert_eq!(a.prompt_tokens, 11);
        assert_eq!(a.expected_output_tokens, 258);
        assert!(a.needs.is_empty());
        assert!(a.difficulty < 0.05, "{}", a.difficulty);
    }

    #[test]
    fn reasoning_code_and_limits_shape_the_analysis() {
        let a = analyse(&request(
            r#"{"model":"auto","n":2,"max_tokens":100,"stream":true,"messages":[{"role":"user",
               "content":"Prove step by step that this algorithm is correct:\n```\nfn f() {}\n```"}]}"#,
        ));
        assert_eq!(a.requested_max_output, Some(100));
        assert_eq!(a.expected_output_tokens, 200);
        assert_eq!(a.needs, vec![Capability::Streaming]);
        assert!(a.difficulty > 0.4, "{}", a.difficulty);
    }
}
