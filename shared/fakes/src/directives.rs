//! Per-request behaviour controls, written into prompt text as
//! `[[fake key=value flag ...]]`.
//!
//! The prompt is the one part of a request every client lets the caller choose and every
//! gateway forwards verbatim, so tests and demo users can steer the fake from the far
//! side of the gateway without any side channel. Blocks may appear in any message; when
//! a key is given more than once, the last occurrence wins. Unknown keys and bad values
//! are errors, so a typo cannot silently turn a failure test into a success test.
//!
//! | Directive            | Effect                                                        |
//! |----------------------|---------------------------------------------------------------|
//! | `status=CODE`        | answer with that error status (400-599) and a dialect error   |
//! | `retry_after=SECS`   | add `Retry-After` to the error (requires `status`)            |
//! | `latency_ms=N`       | delay before a non-streamed response                          |
//! | `ttft_ms=N`          | delay before the first stream event                           |
//! | `chunk_delay_ms=N`   | delay between stream events                                   |
//! | `hang`               | accept the request and never answer                           |
//! | `stall_after=N`      | send N stream events, then nothing, without closing           |
//! | `disconnect_after=N` | send N stream events, then cut the connection                 |
//! | `omit_usage`         | report no token usage, even when asked to                     |
//! | `words=N`            | reply with exactly N filler words (`word1 word2 ...`)         |
//!
//! Directives that do not apply to an endpoint (stream pacing on a non-streamed request,
//! `words` on embeddings) are accepted and ignored there.

use std::{fmt, time::Duration};

use crate::Behaviour;

const OPEN: &str = "[[fake";
const CLOSE: &str = "]]";
const MAX_DELAY_MS: u64 = 3_600_000;
/// Bounds reply size: a stream of this many words is already several megabytes.
pub(crate) const MAX_WORDS: usize = 100_000;

/// The directives found in one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub latency: Option<Duration>,
    pub ttft: Option<Duration>,
    pub chunk_delay: Option<Duration>,
    pub hang: bool,
    pub stall_after: Option<usize>,
    pub disconnect_after: Option<usize>,
    pub omit_usage: bool,
    pub words: Option<usize>,
}

/// A directive the fake cannot honour.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DirectiveError {
    /// The offending token, e.g. `status=abc`.
    pub directive: String,
    pub reason: String,
}

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid fake directive `{}`: {}",
            self.directive, self.reason
        )
    }
}

impl Directives {
    /// Collects the directives from `texts`, in order.
    pub(crate) fn parse<'a>(
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, DirectiveError> {
        let mut directives = Self::default();
        for text in texts {
            for block in blocks(text)? {
                for token in block.split_whitespace() {
                    directives.apply(token)?;
                }
            }
        }
        if let (Some(secs), None) = (directives.retry_after, directives.status) {
            return Err(DirectiveError {
                directive: format!("retry_after={secs}"),
                reason: "only applies to an error reply; add status=CODE".to_owned(),
            });
        }
        Ok(directives)
    }

    /// The request's timing: directives where given, `defaults` otherwise.
    pub(crate) fn timing(&self, defaults: &Behaviour) -> Behaviour {
        Behaviour {
            latency: self.latency.unwrap_or(defaults.latency),
            ttft: self.ttft.unwrap_or(defaults.ttft),
            chunk_delay: self.chunk_delay.unwrap_or(defaults.chunk_delay),
        }
    }

    fn apply(&mut self, token: &str) -> Result<(), DirectiveError> {
        let (key, value) = match token.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (token, None),
        };
        let error = |reason: &str| DirectiveError {
            directive: token.to_owned(),
            reason: reason.to_owned(),
        };
        let flag = || match value {
            None => Ok(true),
            Some(_) => Err(error("this flag takes no value")),
        };
        let number = |max: u64| -> Result<u64, DirectiveError> {
            let value = value.ok_or_else(|| error("needs a value, as in key=N"))?;
            match value.parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(error(&format!("expected a whole number from 0 to {max}"))),
            }
        };
        let count = |max: usize| number(max as u64).map(|n| n as usize);
        let millis = || number(MAX_DELAY_MS).map(Duration::from_millis);
        match key {
            "status" => {
                let code = number(599)?;
                if code < 400 {
                    return Err(error("expected an HTTP error status from 400 to 599"));
                }
                self.status = Some(code as u16);
            }
            "retry_after" => self.retry_after = Some(number(MAX_DELAY_MS / 1000)?),
            "latency_ms" => self.latency = Some(millis()?),
            "ttft_ms" => self.ttft = Some(millis()?),
            "chunk_delay_ms" => self.chunk_delay = Some(millis()?),
            "hang" => self.hang = flag()?,
            "stall_after" => self.stall_after = Some(count(usize::MAX)?),
            "disconnect_after" => self.disconnect_after = Some(count(usize::MAX)?),
            "omit_usage" => self.omit_usage = flag()?,
            "words" => self.words = Some(count(MAX_WORDS)?),
            _ => return Err(error("unknown directive")),
        }
        Ok(())
    }
}

/// Removes every directive block from `text`, for echoing a prompt back without
/// re-arming its directives in the next turn of a conversation.
pub(crate) fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after_open)) = next_block_start(rest) {
        out.push_str(before);
        match after_open.find(CLOSE) {
            Some(end) => rest = &after_open[end + CLOSE.len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The inside of every `[[fake ...]]` block in `text`.
fn blocks(text: &str) -> Result<Vec<&str>, DirectiveError> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some((_, after_open)) = next_block_start(rest) {
        let Some(end) = after_open.find(CLOSE) else {
            return Err(DirectiveError {
                directive: OPEN.to_owned(),
                reason: format!("unterminated block: missing `{CLOSE}`"),
            });
        };
        found.push(&after_open[..end]);
        rest = &after_open[end + CLOSE.len()..];
    }
    Ok(found)
}

/// Splits `text` around the next `[[fake` that opens a block (followed by whitespace or
/// `]]`, so `[[fakeness]]` is ordinary text).
fn next_block_start(text: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(offset) = text[from..].find(OPEN) {
        let start = from + offset;
        let after = &text[start + OPEN.len()..];
        if after.starts_with(CLOSE) || after.starts_with(char::is_whitespace) {
            return Some((&text[..start], after));
        }
        from = start + OPEN.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(texts: &[&str]) -> Result<Directives, DirectiveError> {
        Directives::parse(texts.iter().copied())
    }

    #[test]
    fn no_blocks_means_defaults() {
        assert_eq!(
            parse(&["hello", "[[other]] [[fakeness]]"]).unwrap(),
            Directives::default()
        );
        assert_eq!(parse(&["[[fake]]"]).unwrap(), Directives::default());
    }

    #[test]
    fn reads_every_key() {
        let d = parse(&[
            "hi [[fake status=429 retry_after=7 latency_ms=5 ttft_ms=6 chunk_delay_ms=8]]",
            "[[fake hang stall_after=3 disconnect_after=4\nomit_usage words=12]] bye",
        ])
        .unwrap();
        assert_eq!(
            d,
            Directives {
                status: Some(429),
                retry_after: Some(7),
                latency: Some(Duration::from_millis(5)),
                ttft: Some(Duration::from_millis(6)),
                chunk_delay: Some(Duration::from_millis(8)),
                hang: true,
                stall_after: Some(3),
                disconnect_after: Some(4),
                omit_usage: true,
                words: Some(12),
            }
        );
    }

    #[test]
    fn last_occurrence_wins_across_messages() {
        let d = parse(&[
            "[[fake words=1 latency_ms=9]] [[fake words=2]]",
            "[[fake words=3]]",
        ])
        .unwrap();
        assert_eq!(d.words, Some(3));
        assert_eq!(d.latency, Some(Duration::from_millis(9)));
    }

    #[test]
    fn rejects_bad_directives_by_name() {
        for (text, directive) in [
            ("[[fake status=abc]]", "status=abc"),
            ("[[fake status=200]]", "status=200"),
            ("[[fake status=600]]", "status=600"),
            ("[[fake latency_ms=-1]]", "latency_ms=-1"),
            ("[[fake words]]", "words"),
            ("[[fake words=100001]]", "words=100001"),
            ("[[fake hang=yes]]", "hang=yes"),
            ("[[fake echo_key]]", "echo_key"),
            ("[[fake retry_after=3]]", "retry_after=3"),
            ("[[fake status=429", "[[fake"),
        ] {
            let error = parse(&[text]).unwrap_err();
            assert_eq!(error.directive, directive, "{text}");
            assert!(error.to_string().contains(directive), "{error}");
        }
    }

    #[test]
    fn timing_prefers_directives() {
        let defaults = Behaviour {
            latency: Duration::from_millis(1),
            ttft: Duration::from_millis(2),
            chunk_delay: Duration::from_millis(3),
        };
        let timing = parse(&["[[fake ttft_ms=20]]"]).unwrap().timing(&defaults);
        assert_eq!(timing.latency, Duration::from_millis(1));
        assert_eq!(timing.ttft, Duration::from_millis(20));
        assert_eq!(timing.chunk_delay, Duration::from_millis(3));
    }

    #[test]
    fn strip_removes_blocks_only() {
        assert_eq!(
            strip("a [[fake words=2]]b [[fakeness]] c"),
            "a b [[fakeness]] c"
        );
        assert_eq!(strip("[[fake hang"), "");
    }
}
