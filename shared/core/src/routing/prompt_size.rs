//! A prompt's size in tokens for `auto`, found in bounded time whatever the prompt's length.
//!
//! Counting exactly costs about 0.1 to 0.3 µs per token, so a 100 KB prompt alone would take
//! longer than the rest of the routing decision many times over. A prompt of up to
//! 4 KB of text is counted exactly. A longer one is estimated in two steps of
//! bounded cost: a proxy count read from its characters (all of them up to
//! 64 KB, else from blocks spread over the text), then the real tokens per unit of
//! proxy in windows spread over the text, counted exactly. On prose, code and CJK text the
//! estimate is within a few percent. It serves the ranking (cost, latency, difficulty); whether
//! the prompt fits a context window is decided on the exact count whenever a window lies within
//! the estimate's margin of error, so a model is never left out, or kept, on a guess. Such
//! counts remember the long texts they counted, so the growing conversation of a chat client
//! is counted in full once, then turn by turn.

use crate::tokens;
use crate::wire::Message;

/// Text counted exactly for an estimate, in all: about 1,000 tokens of prose, code or CJK.
const SAMPLE_BYTES: usize = 4 * 1024;
/// Windows the sample is spread over, so that a prompt whose parts differ (prose, then code,
/// then a table) is sampled in each part.
const WINDOWS: usize = 16;
const WINDOW_BYTES: usize = SAMPLE_BYTES / WINDOWS;
/// Text read for the [`proxy`] in all, and the blocks it is spread over past that.
const PROXY_BYTES: usize = 64 * 1024;
const BLOCKS: usize = 64;
const BLOCK_BYTES: usize = PROXY_BYTES / BLOCKS;
/// How far the true count may lie from an estimate: this many standard errors of the estimate,
/// as the spread of the blocks and windows shows it, and no less than a floor, plus a few
/// tokens.
const MARGIN_STANDARD_ERRORS: f64 = 5.0;
const MIN_MARGIN_PERCENT: f64 = 5.0;
const MARGIN_TOKENS: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptSize {
    pub tokens: u64,
    /// Whether `tokens` was counted rather than estimated.
    pub exact: bool,
}

/// The tokens of a conversation plus `extra` text (tools), counted exactly when its text is
/// short or when the answer to "does the prompt fit?" depends on it: `limits` are the prompt
/// sizes at which that answer changes (a prompt fits under a limit when its tokens are at most
/// the limit).
pub fn prompt_size(messages: &[Message], extra: Option<&str>, limits: &[u64]) -> PromptSize {
    let mut texts: Vec<&str> = Vec::with_capacity(2 * messages.len() + 1);
    let framing = tokens::prompt_texts(messages, |text| texts.push(text));
    texts.extend(extra);
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    // A long prompt counted in full is one near a context window: most likely a conversation
    // that will come back with one more turn, so its texts' counts are remembered.
    let exact = |remember: bool| PromptSize {
        tokens: framing
            + if remember {
                tokens::count_texts_remembered(&texts)
            } else {
                texts.iter().map(|t| tokens::count_text(t)).sum::<u64>()
            },
        exact: true,
    };
    if bytes <= SAMPLE_BYTES {
        return exact(false);
    }
    let Some(estimated) = estimate(&texts, bytes) else {
        return exact(true);
    };
    let margin = estimated.margin + MARGIN_TOKENS;
    let estimated = framing + estimated.tokens;
    let low = estimated.saturating_sub(margin);
    let high = estimated + margin;
    if limits.iter().any(|&limit| low <= limit && limit < high) {
        return exact(true);
    }
    PromptSize {
        tokens: estimated,
        exact: false,
    }
}

/// An estimate of the tokens of some texts, and how far the truth may be from it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Estimate {
    tokens: u64,
    margin: u64,
}

/// The tokens of `texts` (`bytes` long together), in two steps whose costs are bounded: the
/// texts' [`proxy`] (all of it up to [`PROXY_BYTES`], else over blocks spread evenly), then
/// tokens per unit of proxy, from windows spread evenly and counted exactly. The margin is
/// [`MARGIN_STANDARD_ERRORS`] standard errors of the two together, as the spread of the blocks
/// and windows shows them, and at least [`MIN_MARGIN_PERCENT`]. `None` when no window held any
/// proxy.
fn estimate(texts: &[&str], bytes: usize) -> Option<Estimate> {
    let (proxy_total, proxy_error) = if bytes <= PROXY_BYTES {
        (texts.iter().map(|t| proxy(t)).sum::<u64>() as f64, 0.0)
    } else {
        let mut blocks = Vec::with_capacity(BLOCKS);
        spread(texts, bytes, BLOCKS, BLOCK_BYTES, |block| {
            blocks.push((proxy(block) as f64, block.len() as f64));
        });
        let (per_byte, error) = ratio(&blocks)?;
        (per_byte * bytes as f64, error)
    };
    let mut windows = Vec::with_capacity(WINDOWS);
    spread(texts, bytes, WINDOWS, WINDOW_BYTES, |window| {
        windows.push((tokens::count_text(window) as f64, proxy(window) as f64));
    });
    let (per_proxy, tokens_error) = ratio(&windows)?;
    let tokens = per_proxy * proxy_total;
    let relative =
        (MARGIN_STANDARD_ERRORS * proxy_error.hypot(tokens_error)).max(MIN_MARGIN_PERCENT / 100.0);
    Some(Estimate {
        tokens: tokens.round() as u64,
        margin: (tokens * relative).ceil() as u64,
    })
}

/// The ratio Σy / Σx of `(y, x)` samples and its relative standard error (the ratio
/// estimator's, from the samples' residuals); `None` when Σx is 0.
fn ratio(samples: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = samples.len() as f64;
    let (sum_y, sum_x) = samples
        .iter()
        .fold((0.0, 0.0), |(y, x), s| (y + s.0, x + s.1));
    if sum_x <= 0.0 || sum_y <= 0.0 {
        return None;
    }
    let ratio = sum_y / sum_x;
    if n < 2.0 {
        return Some((ratio, 1.0));
    }
    let residuals: f64 = samples.iter().map(|(y, x)| (y - ratio * x).powi(2)).sum();
    let standard_error = (residuals / (n - 1.0) / n).sqrt() / (sum_x / n);
    Some((ratio, standard_error / ratio))
}

/// Calls `f` with `count` windows of about `width` bytes centred at evenly spaced offsets of the
/// concatenation of `texts` (`bytes` long together), each within one text; a text shorter
/// than `width` is one window, taken once.
fn spread<'a>(
    texts: &[&'a str],
    bytes: usize,
    count: usize,
    width: usize,
    mut f: impl FnMut(&'a str),
) {
    let mut centres = (0..count)
        .map(|i| (2 * i + 1) * bytes / (2 * count))
        .peekable();
    let mut offset = 0;
    for text in texts {
        let end = offset + text.len();
        while let Some(centre) = centres.next_if(|&c| c < end) {
            let window = window(text, centre - offset, width);
            f(window);
            if window.len() == text.len() {
                while centres.next_if(|&c| c < end).is_some() {}
            }
        }
        offset = end;
    }
}

/// Byte classes of [`proxy`].
const OTHER: u8 = 0;
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const PUNCTUATION: u8 = 3;
const SPACE: u8 = 4;
const NEWLINE: u8 = 5;
/// The first byte of a character outside ASCII.
const LEAD: u8 = 6;
const CONTINUATION: u8 = 7;
/// What a class costs in tenths of a token where a run of it starts, and for each byte: about
/// a token per word, per three digits, per run of punctuation or newlines, two thirds of one per
/// CJK character; a single space joins the next word.
const RUN_START: [u64; 8] = [10, 10, 7, 10, 0, 10, 7, 0];
const PER_BYTE: [u64; 8] = [0, 1, 3, 2, 0, 0, 0, 0];
/// What moving from one class (the row) to another costs, in tenths of a token: a run's start,
/// but half of it for a word after punctuation, which often takes one punctuation character
/// in (`.name`, `_id`, `(word`).
const TRANSITION: [[u64; 8]; 8] = {
    let mut cost = [[0; 8]; 8];
    let mut from = 0;
    while from < 8 {
        let mut to = 0;
        while to < 8 {
            if from != to {
                cost[from][to] = RUN_START[to];
            }
            to += 1;
        }
        from += 1;
    }
    cost[PUNCTUATION as usize][LETTER as usize] = RUN_START[LETTER as usize] / 2;
    cost
};
const CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        class[b] = match b as u8 {
            b'a'..=b'z' | b'A'..=b'Z' => LETTER,
            b'0'..=b'9' => DIGIT,
            b' ' | b'\t' => SPACE,
            b'\n' | b'\r' => NEWLINE,
            0x21..=0x7e => PUNCTUATION,
            0x80..=0xbf => CONTINUATION,
            0xc0..=0xff => LEAD,
            _ => OTHER,
        };
        b += 1;
    }
    class
};

/// A rough token count of `text` (in tenths of a token) from its characters alone, a single
/// pass without branches: it tells how the tokens of the whole compare with those of the
/// windows, so that text denser in tokens than the windows (more punctuation, digits, CJK)
/// weighs in the estimate.
fn proxy(text: &str) -> u64 {
    let mut previous = OTHER;
    let mut total = 0;
    for &b in text.as_bytes() {
        let class = CLASS[usize::from(b)];
        total +=
            PER_BYTE[usize::from(class)] + TRANSITION[usize::from(previous)][usize::from(class)];
        previous = class;
    }
    total
}

/// About `width` bytes of `text` around byte `centre`, cut where the tokenizer cuts too
/// ([`is_cut`]), so that the window's tokens are exactly its share of the text's; at character
/// boundaries where no such cut is near.
fn window(text: &str, centre: usize, width: usize) -> &str {
    if text.len() <= width {
        return text;
    }
    let mut start = centre.saturating_sub(width / 2).min(text.len() - width);
    let mut end = start + width;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // Cuts strictly inside the window, so that it never becomes empty.
    if start > 0 {
        let mut inside = text[start..end].char_indices().skip(1);
        if let Some((cut, _)) = inside.find(|&(i, _)| is_cut(text, start + i)) {
            start += cut;
        }
    }
    if end < text.len() {
        let mut inside = text[start..end].char_indices().rev();
        if let Some((cut, _)) = inside.find(|&(i, _)| i > 0 && is_cut(text, start + i)) {
            end = start + cut;
        }
    }
    &text[start..end]
}

/// Whether the tokenizer's pre-tokenizer (the `o200k_base` pattern) always ends a piece before
/// byte `i` (a character boundary), whatever follows: pieces are then counted alike in the text
/// and in its halves. Its pieces never join a word or mark to a space after it, nor a letter
/// to punctuation after it (but for contractions: `'s`, `'ll`...).
fn is_cut(text: &str, i: usize) -> bool {
    let (Some(before), Some(at)) = (text[..i].chars().next_back(), text[i..].chars().next()) else {
        return false;
    };
    let punctuation = match at {
        '\'' | '\r' | '\n' => false,
        _ if at.is_ascii() => !at.is_ascii_alphanumeric(),
        // CJK punctuation: 、。〈〉《》「」『』【】 and fullwidth ！，：；？
        '\u{3001}' | '\u{3002}' | '\u{3008}'..='\u{3011}' => true,
        '\u{ff01}' | '\u{ff0c}' | '\u{ff1a}' | '\u{ff1b}' | '\u{ff1f}' => true,
        _ => false,
    };
    (at == ' ' && !before.is_whitespace()) || (punctuation && before.is_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ChatRequest, parse_json_body};

    fn conversation(texts: &[&str]) -> Vec<Message> {
        let messages: Vec<serde_json::Value> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                serde_json::json!({"role": role, "content": text})
            })
            .collect();
        let body = serde_json::json!({"model": "auto", "messages": messages}).to_string();
        parse_json_body::<ChatRequest>(body.as_bytes())
            .unwrap()
            .messages
    }

    /// This repository's README: English prose, tables and code blocks.
    fn readme() -> &'static str {
        include_str!("../../../../README.md")
    }

    /// English prose: the README's paragraphs, without its tables, headings, code blocks,
    /// inline code and the lines dense with figures (code and measurements are not prose, and
    /// measurements come and go).
    fn prose() -> String {
        let mut fenced = false;
        let mut prose = String::new();
        for line in readme().lines() {
            fenced ^= line.starts_with("```");
            let digits = line.chars().filter(char::is_ascii_digit).count();
            if !fenced && !line.starts_with(['|', '#', '`']) && digits * 20 <= line.len() {
                // Between backticks every other piece is code.
                prose.extend(line.split('`').step_by(2));
                prose.push('\n');
            }
        }
        prose
    }

    /// Rust source: this crate's routing and wire modules.
    fn code() -> String {
        [
            include_str!("auto.rs"),
            include_str!("mod.rs"),
            include_str!("preferences.rs"),
            include_str!("../wire/chat.rs"),
        ]
        .concat()
    }

    /// Chinese prose with punctuation.
    fn cjk() -> String {
        let sentences = [
            "网关在应用程序和多个大语言模型提供商之间转发请求，",
            "并根据成本、延迟和质量自动选择最合适的模型。",
            "当某个提供商连续失败时，断路器会暂时停止向它发送请求，",
            "直到探测请求成功为止。",
            "每个响应都附带一张收据，说明选择了哪个模型、为什么选择它以及花费了多少。",
            "组织可以设置预算上限，超出预算的请求会被拒绝并返回清晰的错误信息。",
            "长对话的上下文窗口有限，因此路由时必须准确判断提示是否放得下。",
        ];
        (0..1000)
            .map(|i| sentences[(i * 5 + i / 7) % sentences.len()])
            .collect()
    }

    /// A lock file: lines of JSON structure between long hashes, the least even text at hand.
    fn lock_file() -> String {
        include_str!("../../../../tests/node/package-lock.json").to_owned()
    }

    /// The estimate's error and margin relative to the exact count, for `texts` as a
    /// conversation.
    fn error_and_margin(texts: &[&str]) -> (f64, f64) {
        let messages = conversation(texts);
        let exact = tokens::count_prompt(&messages) as f64;
        let mut parts = Vec::new();
        let framing = tokens::prompt_texts(&messages, |t| parts.push(t));
        let bytes = parts.iter().map(|t| t.len()).sum();
        let estimate = estimate(&parts, bytes).unwrap();
        let error = ((framing + estimate.tokens) as f64 - exact).abs() / exact;
        (error, estimate.margin as f64 / exact)
    }

    #[test]
    fn short_prompts_are_counted_exactly() {
        let messages = conversation(&["Hello, world!"]);
        let size = prompt_size(&messages, None, &[]);
        assert_eq!(
            size,
            PromptSize {
                tokens: 11,
                exact: true
            }
        );
    }

    #[test]
    fn long_prompts_are_estimated_within_a_few_percent_and_their_margin() {
        // Markdown and mixed text vary more from window to window: wider margins hold them.
        let cases = [
            ("prose", prose(), 0.03),
            ("code", code(), 0.03),
            ("cjk", cjk(), 0.03),
            ("markdown: prose, tables, code", readme().to_owned(), 0.1),
            (
                "prose, code and cjk in one",
                [prose(), code(), cjk()].concat(),
                0.1,
            ),
        ];
        for (what, text, bound) in &cases {
            assert!(
                text.len() > 10 * SAMPLE_BYTES,
                "{what}: {} bytes",
                text.len()
            );
            let size = prompt_size(&conversation(&[text]), None, &[]);
            assert!(!size.exact, "{what} was counted, not estimated");
            let (error, margin) = error_and_margin(&[text]);
            assert!(error < *bound, "{what}: {:.2}% off", error * 100.0);
            assert!(error < margin, "{what}: {error} off, margin {margin}");
        }
    }

    #[test]
    fn a_history_of_many_short_messages_is_estimated_too() {
        let turns: Vec<&str> = readme().split("\n\n").collect();
        assert!(turns.len() > 100);
        let (error, margin) = error_and_margin(&turns);
        assert!(error < 0.1, "{:.2}% off", error * 100.0);
        assert!(error < margin, "{error} off, margin {margin}");
    }

    #[test]
    fn uneven_text_gets_a_wider_margin_that_still_holds_the_truth() {
        let (prose_error, prose_margin) = error_and_margin(&[&prose()]);
        let (error, margin) = error_and_margin(&[&lock_file()]);
        // The prose comes from the README, so its margin moves as the README is edited: over
        // forty cuts of it, from 0.050 to 0.099 against the lock file's 0.191.
        assert!(margin > 1.5 * prose_margin, "{margin} vs {prose_margin}");
        assert!(
            error > prose_error && error < margin,
            "{error} off, margin {margin}"
        );
    }

    #[test]
    fn a_limit_within_the_margin_makes_the_count_exact() {
        let code = code();
        let messages = conversation(&[&code]);
        let exact = tokens::count_prompt(&messages);
        for limit in [exact - 1, exact, exact + 1] {
            let size = prompt_size(&messages, None, &[limit, 10 * exact]);
            assert_eq!(
                size,
                PromptSize {
                    tokens: exact,
                    exact: true
                },
                "limit {limit}"
            );
        }
        let far = prompt_size(&messages, None, &[exact / 2, 2 * exact]);
        assert!(!far.exact);
    }

    #[test]
    fn extra_text_counts() {
        let messages = conversation(&["Hello, world!"]);
        let tools = r#"[{"type":"function","function":{"name":"lookup"}}]"#;
        let size = prompt_size(&messages, Some(tools), &[]);
        assert_eq!(size.tokens, 11 + tokens::count_text(tools));
    }

    #[test]
    fn windows_end_where_the_tokenizer_cuts() {
        for text in [prose(), code(), cjk(), lock_file()] {
            let mut counted = 0;
            let mut rest = text.as_str();
            // Cutting the text into windows at the windows' cuts loses no token.
            while rest.len() > WINDOW_BYTES {
                let piece = window(rest, 0, WINDOW_BYTES);
                assert!(!piece.is_empty() && piece.len() <= WINDOW_BYTES);
                counted += tokens::count_text(piece);
                rest = &rest[piece.len()..];
            }
            counted += tokens::count_text(rest);
            assert_eq!(counted, tokens::count_text(&text));
        }
    }
}
