//! Token counting with a real tokenizer (`o200k_base`, the encoding of OpenAI's current models),
//! for usage a provider did not report. Other providers' tokenizers differ by a few percent; the
//! receipt says when counts are the gateway's own.
//!
//! The tokenizer's tables take tens of megabytes and a few hundred milliseconds to build, and
//! providers that report usage never need them: they are built on first use. Counting is CPU
//! work, so callers on an async runtime run it on the blocking pool.
//!
//! Chat clients send the whole conversation with every turn, so the long texts of a
//! conversation come back again and again: [`count_texts_remembered`] keeps their counts by a
//! hash of the text, and a conversation grown by one turn costs a count of that turn only.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use lru::LruCache;
use tiktoken_rs::CoreBPE;

use crate::wire::{EmbeddingInput, Message};

/// Tokens OpenAI adds around every message, and once to prime the reply.
const TOKENS_PER_MESSAGE: u64 = 3;
const REPLY_PRIMING_TOKENS: u64 = 3;

static BUILT: AtomicBool = AtomicBool::new(false);

fn encoder() -> &'static CoreBPE {
    let encoder = tiktoken_rs::o200k_base_singleton();
    BUILT.store(true, Ordering::Relaxed);
    encoder
}

/// Whether the tables are built, so counting is quick; until then the first count takes a few
/// hundred milliseconds.
pub fn is_ready() -> bool {
    BUILT.load(Ordering::Relaxed)
}

pub fn count_text(text: &str) -> u64 {
    encoder().encode_ordinary(text).len() as u64
}

/// Texts whose counts are remembered, at most, in about 4 MB (a hash, a length and a count
/// each): some thirty conversations of 128k tokens in turns of a paragraph.
const REMEMBERED: NonZeroUsize = NonZeroUsize::new(65_536).unwrap();

/// Counts of long texts by the text's 64-bit XXH3 hash and length: a wrong count would need
/// two texts of one length with one hash.
type Remembered = Mutex<LruCache<(u64, usize), u64>>;

fn remembered() -> &'static Remembered {
    static COUNTS: OnceLock<Remembered> = OnceLock::new();
    COUNTS.get_or_init(|| Mutex::new(LruCache::new(REMEMBERED)))
}

/// The tokens of all `texts` together, as [`count_text`] would count them one by one, with
/// their counts remembered (the least recently used forgotten first): a lookup is quicker than
/// a count even for a role's name. The memory is locked at most twice per call.
pub fn count_texts_remembered(texts: &[&str]) -> u64 {
    let mut total = 0;
    let keys = texts.iter().map(|text| {
        (
            xxhash_rust::xxh3::xxh3_64(text.as_bytes()),
            text.len(),
            *text,
        )
    });
    let lock = || remembered().lock().unwrap_or_else(PoisonError::into_inner);
    let mut missing = Vec::new();
    {
        let mut counts = lock();
        for (hash, len, text) in keys {
            match counts.get(&(hash, len)) {
                Some(&count) => total += count,
                None => missing.push((hash, len, text)),
            }
        }
    }
    if missing.is_empty() {
        return total;
    }
    let counted: Vec<_> = missing
        .into_iter()
        .map(|(hash, len, text)| ((hash, len), count_text(text)))
        .collect();
    let mut counts = lock();
    for (key, count) in counted {
        total += count;
        counts.put(key, count);
    }
    total
}

/// Forgets every remembered count, so that the next counts are first counts (benchmarks).
pub fn forget_remembered_counts() {
    remembered()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// Prompt tokens of a conversation, counted the way OpenAI bills chat messages.
pub fn count_prompt(messages: &[Message]) -> u64 {
    let mut total = 0;
    let framing = prompt_texts(messages, |text| total += count_text(text));
    framing + total
}

/// Tokens of an embeddings request's input: its texts counted, its token lists as they are.
pub fn count_input(input: &EmbeddingInput) -> u64 {
    match input {
        EmbeddingInput::Text(text) => count_text(text),
        EmbeddingInput::Texts(texts) => texts.iter().map(|t| count_text(t)).sum(),
        EmbeddingInput::Tokens(tokens) => tokens.len() as u64,
        EmbeddingInput::TokenLists(lists) => lists.iter().map(|l| l.len() as u64).sum(),
    }
}

/// Walks a conversation the way OpenAI bills it: calls `text` with every text that costs
/// tokens (each message's role, content and tool calls) and returns the tokens of the framing
/// around them.
pub fn prompt_texts<'a>(messages: &'a [Message], mut text: impl FnMut(&'a str)) -> u64 {
    for message in messages {
        text(message.role());
        message.for_each_text(&mut text);
    }
    REPLY_PRIMING_TOKENS + TOKENS_PER_MESSAGE * messages.len() as u64
}

/// Collects a completion's text as it streams, and counts it at the end.
#[derive(Debug, Default, Clone)]
pub struct OutputText {
    text: String,
}

impl OutputText {
    pub fn push(&mut self, piece: &str) {
        self.text.push_str(piece);
    }

    pub fn count(&self) -> u64 {
        if self.text.is_empty() {
            0
        } else {
            count_text(&self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ChatRequest, parse_json_body};

    #[test]
    fn remembered_counts_are_the_counts() {
        let long = "The quick brown fox jumps over the lazy dog. ".repeat(200);
        let other = format!("{long}One more sentence.");
        let texts = [long.as_str(), "short", other.as_str(), long.as_str()];
        let expected: u64 = texts.iter().map(|t| count_text(t)).sum();
        assert_eq!(count_texts_remembered(&texts), expected);
        assert_eq!(count_texts_remembered(&texts), expected);
        assert_eq!(
            count_texts_remembered(&texts[1..3]),
            expected - 2 * count_text(&long)
        );
    }

    #[test]
    fn counts_text_with_the_real_tokenizer() {
        assert_eq!(count_text("Hello, world!"), 4);
        assert_eq!(count_text(""), 0);
    }

    #[test]
    fn embedding_inputs_count_their_texts_and_token_lists() {
        assert_eq!(
            count_input(&EmbeddingInput::Text("Hello, world!".into())),
            4
        );
        assert_eq!(
            count_input(&EmbeddingInput::Texts(vec![
                "Hello, world!".into(),
                "Hello".into()
            ])),
            5
        );
        assert_eq!(count_input(&EmbeddingInput::Tokens(vec![1, 2, 3])), 3);
        assert_eq!(
            count_input(&EmbeddingInput::TokenLists(vec![vec![1, 2], vec![3]])),
            3
        );
    }

    #[test]
    fn a_one_message_prompt_costs_its_text_plus_framing() {
        let req: ChatRequest = parse_json_body(
            br#"{"model":"m","messages":[{"role":"user","content":"Hello, world!"}]}"#,
        )
        .unwrap();
        // 3 priming + 3 per message + "user" (1) + text (4)
        assert_eq!(count_prompt(&req.messages), 11);
    }
}
