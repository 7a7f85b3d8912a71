//! What `auto` needs to know about a request before it ranks models: its size in tokens
//! (with the real tokenizer, estimated for long prompts: [`super::prompt_size`]), how long the answer is likely to be, what capabilities it
//! cannot do without, and how hard it looks.
//!
//! Difficulty is a heuristic over the text (length, reasoning and code markers, structured
//! output, tools, conversation depth); a learned predictor can read the same analysis through
//! [`super::QualityPredictor`].

use crate::catalog::Capability;
use crate::wire::{ChatRequest, Message, ResponseFormat};

use super::prompt_size::prompt_size;

/// Answer length assumed when the request sets no limit: a few paragraphs, more for a long
/// prompt, bounded.
const BASE_OUTPUT_TOKENS: u64 = 256;
const MAX_ESTIMATED_OUTPUT_TOKENS: u64 = 2_048;

/// Bytes at the start and at the end of the task that reasoning, code and maths markers are
/// looked for in.
const MARKER_SCAN_BYTES: usize = 4 * 1024;

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
    /// Whether `prompt_tokens` was counted rather than estimated; always counted when a
    /// candidate's context window is near it.
    pub prompt_tokens_exact: bool,
    /// Likely completion tokens, all choices together.
    pub expected_output_tokens: u64,
    /// `max_completion_tokens` / `max_tokens`, when set.
    pub requested_max_output: Option<u64>,
    pub needs: Vec<Capability>,
    /// 0 (trivial) to 1 (hard).
    pub difficulty: f64,
}

/// Analyses a request for candidates with these `context_windows` (in tokens; their order does
/// not matter). Its cost is bounded whatever the prompt's size, except when a window is close
/// to the prompt's estimated size: the prompt is then counted exactly, which is CPU work
/// proportional to its length, so callers on an async runtime run it on the blocking pool for
/// large prompts.
pub fn analyse(request: &ChatRequest, context_windows: &[u64]) -> RequestAnalysis {
    let requested_max_output = request
        .max_completion_tokens
        .or(request.max_tokens)
        .and_then(|n| u64::try_from(n).ok());
    // A prompt fits a window when it leaves room for the output asked for (or one token).
    let reserved = requested_max_output.unwrap_or(1);
    let limits: Vec<u64> = context_windows
        .iter()
        .map(|w| w.saturating_sub(reserved))
        .collect();
    let tools = request
        .tools
        .as_ref()
        .and_then(|tools| serde_json::to_string(tools).ok());
    let size = prompt_size(&request.messages, tools.as_deref(), &limits);
    let prompt_tokens = size.tokens;
    let choices = u64::from(request.n.unwrap_or(1).max(1));
    let per_choice = (BASE_OUTPUT_TOKENS + prompt_tokens / 4).min(MAX_ESTIMATED_OUTPUT_TOKENS);
    let per_choice = requested_max_output.map_or(per_choice, |cap| per_choice.min(cap));
    RequestAnalysis {
        prompt_tokens,
        prompt_tokens_exact: size.exact,
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

/// The start and the end of a long task, lowercased: where a long prompt says what it asks
/// (before or after the document it pastes), and all that the markers are looked for in, so
/// that the look takes the same time whatever the prompt's length.
fn task_excerpt(request: &ChatRequest) -> String {
    let task = task_text(request);
    if task.len() <= 2 * MARKER_SCAN_BYTES {
        return task.to_lowercase();
    }
    let mut head = MARKER_SCAN_BYTES;
    while !task.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = task.len() - MARKER_SCAN_BYTES;
    while !task.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}\n{}", &task[..head], &task[tail..]).to_lowercase()
}

fn difficulty(request: &ChatRequest, prompt_tokens: u64) -> f64 {
    // 10 tokens or fewer count as nothing, 10,000 or more as fully long.
    let length = ((prompt_tokens.max(1) as f64).log10() - 1.0) / 3.0;
    let mut score = 0.3 * length.clamp(0.0, 1.0);

    let task = task_excerpt(request);
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
        let a = analyse(
            &request(r#"{"model":"auto","messages":[{"role":"user","content":"Hello, world!"}]}"#),
            &[128_000],
        );
        assert_eq!(a.prompt_tokens, 11);
        assert_eq!(a.expected_output_tokens, 258);
        assert!(a.needs.is_empty());
        assert!(a.difficulty < 0.05, "{}", a.difficulty);
    }

    #[test]
    fn reasoning_code_and_limits_shape_the_analysis() {
        let a = analyse(
            &request(
                r#"{"model":"auto","n":2,"max_tokens":100,"stream":true,"messages":[{"role":"user",
               "content":"Prove step by step that this algorithm is correct:\n```\nfn f() {}\n```"}]}"#,
            ),
            &[],
        );
        assert_eq!(a.requested_max_output, Some(100));
        assert_eq!(a.expected_output_tokens, 200);
        assert_eq!(a.needs, vec![Capability::Streaming]);
        assert!(a.difficulty > 0.4, "{}", a.difficulty);
    }

    #[test]
    fn markers_count_at_either_end_of_a_long_task_only() {
        let filler = "The quick brown fox jumps over the lazy dog. ".repeat(1_000);
        let at = |before: &str, after: &str| {
            let content = format!("{before}{filler}{after}");
            let body = serde_json::json!({"model": "auto",
                "messages": [{"role": "user", "content": content}]});
            analyse(&request(&body.to_string()), &[]).difficulty
        };
        let plain = at("", "");
        let ask = "Prove step by step, then analyse the algorithm. ";
        assert!(at(ask, "") > plain + 0.2);
        assert!(at("", ask) > plain + 0.2);
        let middle = format!(
            "{}{ask}{}",
            &filler[..filler.len() / 2],
            &filler[filler.len() / 2..]
        );
        let body = serde_json::json!({"model": "auto",
            "messages": [{"role": "user", "content": middle}]});
        assert!((analyse(&request(&body.to_string()), &[]).difficulty - plain).abs() < 0.01);
    }
}
