//! Live statistics of one model from real traffic: moving averages that the router ranks by,
//! and percentiles over recent calls for operators.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Outcome;

/// Weight of the newest observation in the moving averages.
const ALPHA: f64 = 0.2;
/// Recent latencies kept for percentiles.
const RECENT: usize = 256;
/// Observations needed before a live figure replaces the catalog's prior.
pub const MIN_SAMPLES: u64 = 5;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveStats {
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    /// Moving average of failures (0-1), recent calls weigh most.
    pub error_rate: f64,
    /// Time to first token of streams.
    pub ttft_ms: LatencySummary,
    /// Whole calls, first byte sent to last byte received.
    pub total_ms: LatencySummary,
    /// Moving average of output tokens per second after the first token (streams), or over
    /// the whole call (non-streamed calls, a lower bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_second: Option<f64>,
    #[serde(skip)]
    throughput_samples: u64,
}

/// A moving average and the recent latencies. Percentiles are worked out when read (for
/// operators, rarely), not on every observation (every call).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Serialize)]
#[serde(into = "LatencyReport")]
pub struct LatencySummary {
    pub samples: u64,
    pub ewma: Option<f64>,
    #[serde(skip)]
    recent: VecDeque<f64>,
}

/// Percentiles over the recent calls (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// How a [`LatencySummary`] is shown: the moving average with the percentiles.
#[derive(Serialize)]
struct LatencyReport {
    samples: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ewma: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p50: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p95: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p99: Option<f64>,
}

impl From<LatencySummary> for LatencyReport {
    fn from(summary: LatencySummary) -> Self {
        let Percentiles { p50, p95, p99 } = summary.percentiles();
        LatencyReport {
            samples: summary.samples,
            ewma: summary.ewma,
            p50,
            p95,
            p99,
        }
    }
}

impl LatencySummary {
    fn observe(&mut self, ms: f64) {
        self.samples += 1;
        self.ewma = Some(ewma(self.ewma, ms));
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
    }

    pub fn percentiles(&self) -> Percentiles {
        let mut sorted: Vec<f64> = self.recent.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        Percentiles {
            p50: percentile(&sorted, 0.50),
            p95: percentile(&sorted, 0.95),
            p99: percentile(&sorted, 0.99),
        }
    }

    /// The moving average, once there are enough samples to trust it.
    pub fn settled(&self) -> Option<f64> {
        self.ewma.filter(|_| self.samples >= MIN_SAMPLES)
    }
}

fn ewma(previous: Option<f64>, value: f64) -> f64 {
    match previous {
        Some(p) => p + ALPHA * (value - p),
        None => value,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl LiveStats {
    pub fn observe(&mut self, outcome: &Outcome) {
        match *outcome {
            Outcome::Success {
                ttft,
                total,
                output_tokens,
            } => {
                self.requests += 1;
                self.successes += 1;
                self.error_rate = ewma(Some(self.error_rate), 0.0);
                self.total_ms.observe(ms(total));
                if let Some(ttft) = ttft {
                    self.ttft_ms.observe(ms(ttft));
                }
                let generating = total.saturating_sub(ttft.unwrap_or_default());
                if output_tokens > 0 && !generating.is_zero() {
                    let tps = output_tokens as f64 / generating.as_secs_f64();
                    self.tokens_per_second = Some(ewma(self.tokens_per_second, tps));
                    self.throughput_samples += 1;
                }
            }
            Outcome::Failure { total } => {
                self.requests += 1;
                self.failures += 1;
                self.error_rate = ewma(Some(self.error_rate), 1.0);
                self.total_ms.observe(ms(total));
            }
            Outcome::Neutral => {}
        }
    }

    /// Live throughput, once enough calls were measured.
    pub fn settled_tokens_per_second(&self) -> Option<f64> {
        self.tokens_per_second
            .filter(|_| self.throughput_samples >= MIN_SAMPLES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn success(ttft_ms: u64, total_ms: u64, tokens: u64) -> Outcome {
        Outcome::Success {
            ttft: Some(Duration::from_millis(ttft_ms)),
            total: Duration::from_millis(total_ms),
            output_tokens: tokens,
        }
    }

    #[test]
    fn percentiles_and_averages_follow_the_traffic() {
        let mut stats = LiveStats::default();
        for i in 1..=100 {
            stats.observe(&success(i, 1000 + i, 100));
        }
        let percentiles = stats.ttft_ms.percentiles();
        assert_eq!(percentiles.p50, Some(50.0));
        assert_eq!(percentiles.p95, Some(95.0));
        assert_eq!(percentiles.p99, Some(99.0));
        let shown = serde_json::to_value(&stats.ttft_ms).unwrap();
        assert_eq!(shown["p99"], 99.0);
        assert_eq!(stats.total_ms.samples, 100);
        // 100 tokens in one second after the first token.
        let tps = stats.settled_tokens_per_second().unwrap();
        assert!((tps - 100.0).abs() < 1e-6, "{tps}");
        assert_eq!(stats.error_rate, 0.0);
    }

    #[test]
    fn failures_raise_the_error_rate_and_live_figures_wait_for_enough_samples() {
        let mut stats = LiveStats::default();
        stats.observe(&success(200, 400, 10));
        assert_eq!(stats.ttft_ms.settled(), None);
        stats.observe(&Outcome::Failure {
            total: Duration::from_millis(5),
        });
        assert!((stats.error_rate - ALPHA).abs() < 1e-9);
        assert_eq!((stats.requests, stats.failures), (2, 1));
        stats.observe(&Outcome::Neutral);
        assert_eq!(stats.requests, 2);
    }
}
