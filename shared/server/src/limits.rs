//! Rate limits at three levels, organisation, key and client IP address: requests per minute,
//! tokens per minute and requests per (UTC) day, as fixed windows in the store's [`Counters`],
//! so every gateway process sharing a store shares the limits.
//!
//! Tokens are estimated before the call (the request body's bytes / 4 for the prompt, plus
//! `max_completion_tokens` / `max_tokens` or `[limits] default_max_output_tokens`) and
//! reconciled with the real figure afterwards. Every counter of a request is asked in one call,
//! all or none ([`Counters::add_all`]: one transaction on SQLite; side by side on DynamoDB, the
//! others giving their share back when one refuses), so the check costs one store round trip.
//! The response carries the most restrictive limit as `X-RateLimit-*` headers.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use gateway_core::{ApiError, ErrorKind};
use gateway_store::{Ask, Counters, Timestamp};

use crate::counter_writer::{CounterWriter, Urgency};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Minute,
    Day,
}

impl Window {
    fn millis(self) -> i64 {
        match self {
            Window::Minute => MINUTE_MS,
            Window::Day => DAY_MS,
        }
    }

    pub fn start(self, now: Timestamp) -> Timestamp {
        Timestamp(now.millis() - now.millis().rem_euclid(self.millis()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Requests,
    Tokens,
}

/// One limit that applies to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// `org:<id>`, `key:<id>` or `ip:<address>`.
    pub subject: String,
    pub measure: Measure,
    pub window: Window,
    pub max: u64,
}

impl Limit {
    fn counter_key(&self) -> String {
        let measure = match (self.measure, self.window) {
            (Measure::Requests, Window::Minute) => "rpm",
            (Measure::Tokens, Window::Minute) => "tpm",
            (Measure::Requests, Window::Day) => "rpd",
            (Measure::Tokens, Window::Day) => "tpd",
        };
        format!("{measure}:{}", self.subject)
    }
}

/// The limits of one caller: its organisation's, its key's overrides, its address's.
#[derive(Debug, Clone, Default)]
pub struct LimitSet {
    pub limits: Vec<Limit>,
}

impl LimitSet {
    pub fn push(&mut self, subject: &str, measure: Measure, window: Window, max: Option<u64>) {
        if let Some(max) = max {
            self.limits.push(Limit {
                subject: subject.to_owned(),
                measure,
                window,
                max,
            });
        }
    }

    pub fn for_ip(ip: IpAddr, requests_per_minute: Option<u64>) -> LimitSet {
        let mut set = LimitSet::default();
        set.push(
            &format!("ip:{}", ip.to_canonical()),
            Measure::Requests,
            Window::Minute,
            requests_per_minute,
        );
        set
    }

    pub fn has_tokens(&self) -> bool {
        self.limits.iter().any(|l| l.measure == Measure::Tokens)
    }
}

/// What the headers report: the limit with the least left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until that limit's window resets.
    pub reset_secs: u64,
}

impl Standing {
    pub fn write(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset_secs));
    }
}

/// A token estimate taken from the tokens-per-minute counters, to reconcile after the call.
#[derive(Debug, Clone)]
pub struct TokenReservation {
    pub counters: Vec<(String, Timestamp)>,
    pub estimate: u64,
}

/// The outcome of a check that admitted the request.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub standing: Option<Standing>,
    pub tokens: TokenReservation,
}

/// A refusal: the error (429 with `Retry-After`) and the headers to send with it.
#[derive(Debug)]
pub struct Refused {
    pub error: ApiError,
    pub standing: Standing,
}

pub struct Limiter {
    counters: Arc<dyn Counters>,
    writer: Arc<CounterWriter>,
}

impl Limiter {
    pub fn new(counters: Arc<dyn Counters>, writer: Arc<CounterWriter>) -> Self {
        Limiter { counters, writer }
    }

    /// Counts one request (and `estimate` tokens) against every limit in `set`, all or none.
    pub async fn admit(
        &self,
        set: &LimitSet,
        estimate: u64,
        now: Timestamp,
    ) -> Result<Admitted, Refused> {
        let asks: Vec<Ask> = set
            .limits
            .iter()
            .map(|limit| {
                let window_start = limit.window.start(now);
                Ask {
                    key: limit.counter_key(),
                    window_start,
                    amount: match limit.measure {
                        Measure::Requests => 1,
                        Measure::Tokens => estimate,
                    },
                    limit: limit.max,
                    expires_at: window_start.plus_millis(limit.window.millis() * 2),
                }
            })
            .collect();
        let admissions = match self.counters.add_all(&asks).await {
            Ok(admissions) => admissions,
            // A store that cannot answer does not stop traffic; the failure is logged.
            Err(error) => {
                tracing::warn!(%error, "rate-limit counters unavailable; request admitted");
                Vec::new()
            }
        };

        let mut refused: Option<(&Limit, Timestamp)> = None;
        let mut standing: Option<Standing> = None;
        for ((limit, ask), admission) in set.limits.iter().zip(&asks).zip(&admissions) {
            let start = ask.window_start;
            let reset = reset_secs(limit.window, start, now);
            if !admission.admitted {
                if refused.is_none_or(|(_, s)| reset > reset_secs(limit.window, s, now)) {
                    refused = Some((limit, start));
                }
                continue;
            }
            if limit.measure == Measure::Requests {
                let candidate = Standing {
                    limit: limit.max,
                    remaining: limit.max.saturating_sub(admission.count),
                    reset_secs: reset,
                };
                if standing.is_none_or(|s| candidate.remaining < s.remaining) {
                    standing = Some(candidate);
                }
            }
        }

        if let Some((limit, start)) = refused {
            let reset = reset_secs(limit.window, start, now);
            let what = match (limit.measure, limit.window) {
                (Measure::Requests, Window::Minute) => "requests per minute",
                (Measure::Tokens, Window::Minute) => "tokens per minute",
                (Measure::Requests, Window::Day) => "requests per day",
                (Measure::Tokens, Window::Day) => "tokens per day",
            };
            let level = limit.subject.split(':').next().unwrap_or("");
            let error = ApiError::new(
                ErrorKind::RateLimited,
                format!(
                    "Rate limit reached: {} {what} for this {}. Try again in {reset} s.",
                    limit.max,
                    match level {
                        "org" => "organisation",
                        "key" => "key",
                        _ => "IP address",
                    }
                ),
            )
            .with_code("rate_limit_exceeded")
            .with_retry_after(Some(std::time::Duration::from_secs(reset)));
            return Err(Refused {
                error,
                standing: Standing {
                    limit: limit.max,
                    remaining: 0,
                    reset_secs: reset,
                },
            });
        }

        let counters = set
            .limits
            .iter()
            .zip(asks)
            .filter(|(limit, _)| limit.measure == Measure::Tokens)
            .map(|(_, ask)| (ask.key, ask.window_start))
            .collect();
        Ok(Admitted {
            standing,
            tokens: TokenReservation { counters, estimate },
        })
    }

    /// Replaces a token estimate by the real count (`actual`; 0 when the call failed), through
    /// the counter writer.
    pub fn reconcile(&self, reservation: &TokenReservation, actual: u64) {
        let delta = i128::from(actual) - i128::from(reservation.estimate);
        let Ok(delta) = i64::try_from(delta) else {
            return;
        };
        for (key, start) in &reservation.counters {
            let expires = start.plus_millis(MINUTE_MS * 2);
            self.writer
                .adjust(key.clone(), *start, delta, expires, Urgency::Limit);
        }
    }
}

fn reset_secs(window: Window, start: Timestamp, now: Timestamp) -> u64 {
    let end = start.plus_millis(window.millis());
    let ms = (end.millis() - now.millis()).max(1);
    u64::try_from((ms + 999) / 1000).unwrap_or(1)
}

/// The tokens a request may use, estimated from its body before the call.
pub fn estimate_tokens(body: &[u8], is_chat: bool, default_output: u64) -> u64 {
    #[derive(serde::Deserialize)]
    struct Budget {
        max_tokens: Option<u64>,
        max_completion_tokens: Option<u64>,
    }
    let prompt = u64::try_from(body.len() / 4).unwrap_or(u64::MAX);
    if !is_chat {
        return prompt;
    }
    let output = serde_json::from_slice::<Budget>(body)
        .ok()
        .and_then(|b| b.max_completion_tokens.or(b.max_tokens))
        .unwrap_or(default_output);
    prompt.saturating_add(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_store::sqlite::SqliteStore;

    #[test]
    fn windows_start_on_the_minute_and_the_utc_day() {
        let t = Timestamp(1_795_694_678_123);
        assert_eq!(Window::Minute.start(t).millis() % 60_000, 0);
        assert_eq!(
            Window::Day.start(t).to_rfc3339(),
            "2026-11-26T00:00:00.000Z"
        );
    }

    #[test]
    fn estimates_use_the_requested_output_or_the_default() {
        let body = br#"{"model":"auto","max_tokens":100,"messages":[]}"#;
        assert_eq!(estimate_tokens(body, true, 7), body.len() as u64 / 4 + 100);
        assert_eq!(estimate_tokens(b"{}", true, 7), 7);
        assert_eq!(estimate_tokens(b"{\"input\":\"abcdefgh\"}", false, 7), 5);
    }

    #[tokio::test]
    async fn a_refusal_gives_back_what_the_other_limits_admitted() {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let writer = Arc::new(CounterWriter::start(store.clone()).unwrap());
        let limiter = Limiter::new(store.clone(), writer.clone());
        let mut set = LimitSet::default();
        set.push("org:o", Measure::Requests, Window::Minute, Some(10));
        set.push("key:k", Measure::Tokens, Window::Minute, Some(100));
        let now = Timestamp::now();
        let start = Window::Minute.start(now);
        let ok = limiter.admit(&set, 60, now).await.unwrap();
        assert_eq!(ok.standing.unwrap().remaining, 9);
        let refused = limiter.admit(&set, 60, now).await.unwrap_err();
        assert_eq!(refused.error.status().as_u16(), 429);
        assert_eq!(store.get("rpm:org:o", start).await.unwrap(), 1);
        limiter.reconcile(&ok.tokens, 10);
        writer.flush().await;
        assert_eq!(store.get("tpm:key:k", start).await.unwrap(), 10);
    }
}
