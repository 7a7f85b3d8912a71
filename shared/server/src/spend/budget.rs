//! Spend limits on the request path: what a request may cost at most, whether the
//! organisation's budget can pay for it, the reservation of that worst case in the store's
//! counters before any provider call, and its reconciliation with the actual cost afterwards.
//!
//! Money is counted in integer micro-dollars. A request's worst case is its prompt (the
//! larger of the request's bytes / 4, as the tokens-per-minute estimate, and the tokenizer's
//! count when `auto` made one) plus its maximum output (`max_completion_tokens` /
//! `max_tokens` times `n`, else the model's output limit, else `[limits]
//! default_max_output_tokens`) at the model's prices, plus the platform fee. Each limited
//! period (day, ISO week, month of the organisation's time zone) admits the reservation within
//! its limit, all periods in one `Counters::add_all` (all or none), so concurrent requests, in
//! one process or many, never reserve more than the limit together; the actual cost, never
//! above the worst case unless the provider counts more prompt tokens than estimated, replaces
//! the reservation.

use std::sync::Arc;
use std::time::Duration;

use gateway_core::catalog::ModelEntry;
use gateway_core::wire::ChatRequest;
use gateway_core::{ApiError, ErrorKind};
use gateway_store::model::org::Organization;
use gateway_store::{Ask, Counters, Timestamp};

use super::keys;
use super::period::{self, Calendar, Window};
use crate::counter_writer::{CounterWriter, Urgency};

const MICROS_PER_USD: f64 = 1e6;

/// Dollars to micro-dollars, rounded up: a budget is never under-counted.
pub fn usd_to_micros(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        // Saturating: limits are validated far below u64::MAX micro-dollars.
        (usd * MICROS_PER_USD).ceil() as u64
    } else {
        0
    }
}

pub fn micros_to_usd(micros: u64) -> f64 {
    micros as f64 / MICROS_PER_USD
}

/// What an organisation may still spend on one request, and which limit says so.
#[derive(Debug, Clone)]
pub struct Allowance {
    /// The least of the per-request limit and what each limited period has left.
    pub max_micros: u64,
    pub binding: Binding,
}

/// The limit that bounds a request.
#[derive(Debug, Clone)]
pub enum Binding {
    PerRequest {
        limit_micros: u64,
    },
    Period {
        window: Window,
        limit_micros: u64,
        spent_micros: u64,
    },
}

/// The worst case of a request, held in the organisation's period counters until the actual
/// cost is known.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub org_id: String,
    pub micros: u64,
    /// The windows that admitted it.
    pub windows: Vec<Window>,
}

/// Costs, limits and counters for the request path; one per process.
pub struct Budget {
    counters: Arc<dyn Counters>,
    writer: Arc<CounterWriter>,
    fee_percent: f64,
    default_output_tokens: u64,
    calendar: Calendar,
}

impl Budget {
    pub fn new(
        counters: Arc<dyn Counters>,
        writer: Arc<CounterWriter>,
        fee_percent: f64,
        default_output_tokens: u64,
    ) -> Self {
        Budget {
            counters,
            writer,
            fee_percent,
            default_output_tokens,
            calendar: Calendar::default(),
        }
    }

    pub fn fee_percent(&self) -> f64 {
        self.fee_percent
    }

    /// A provider cost with the platform fee added.
    pub fn with_fee(&self, provider_usd: f64) -> f64 {
        provider_usd * (1.0 + self.fee_percent / 100.0)
    }

    /// The most `request` can cost on `model`, fee included, with `prompt_tokens` estimated.
    pub fn worst_case_micros(
        &self,
        model: &ModelEntry,
        request: &ChatRequest,
        prompt_tokens: u64,
    ) -> u64 {
        let per_choice = request
            .max_completion_tokens
            .or(request.max_tokens)
            .and_then(|n| u64::try_from(n).ok())
            .or((model.max_output_tokens > 0).then_some(model.max_output_tokens))
            .unwrap_or(self.default_output_tokens);
        let output = per_choice.saturating_mul(u64::from(request.n.unwrap_or(1).max(1)));
        let usd = (prompt_tokens as f64 * model.input_per_mtok
            + output as f64 * model.output_per_mtok)
            / 1_000_000.0;
        usd_to_micros(self.with_fee(usd))
    }

    /// What `org` may spend on one request now; `None` when it has no limit at all. Every
    /// period's counter is read in one store call; should that fail, the periods count as
    /// unspent: the reservation still enforces them.
    pub async fn allowance(&self, org: &Organization, now: Timestamp) -> Option<Allowance> {
        let limits = org.spend.limits;
        if limits.is_empty() {
            return None;
        }
        let limited = self.limited_windows(org, now);
        let counters: Vec<(String, Timestamp)> = limited
            .iter()
            .map(|(window, _)| (keys::spend(window.period, &org.id), window.start))
            .collect();
        let spent = self
            .counters
            .get_many(&counters)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "reading the spend counters failed");
                vec![0; counters.len()]
            });
        let mut best = limits.per_request_usd.map(|usd| {
            let limit_micros = usd_to_micros(usd);
            Allowance {
                max_micros: limit_micros,
                binding: Binding::PerRequest { limit_micros },
            }
        });
        for ((window, limit_micros), spent_micros) in limited.into_iter().zip(spent) {
            let left = limit_micros.saturating_sub(spent_micros);
            if best.as_ref().is_none_or(|b| left < b.max_micros) {
                best = Some(Allowance {
                    max_micros: left,
                    binding: Binding::Period {
                        window,
                        limit_micros,
                        spent_micros,
                    },
                });
            }
        }
        best
    }

    /// Holds `micros` in every limited period of `org`, all or none, in one store call.
    pub async fn reserve(
        &self,
        org: &Organization,
        micros: u64,
        now: Timestamp,
    ) -> Result<Reservation, ApiError> {
        let limited = self.limited_windows(org, now);
        let reservation = |windows| Reservation {
            org_id: org.id.clone(),
            micros,
            windows,
        };
        if limited.is_empty() {
            return Ok(reservation(Vec::new()));
        }
        let asks: Vec<Ask> = limited
            .iter()
            .map(|(window, limit)| Ask {
                key: keys::spend(window.period, &org.id),
                window_start: window.start,
                amount: micros,
                limit: *limit,
                expires_at: keys::spend_expiry(window),
            })
            .collect();
        let admissions = match self.counters.add_all(&asks).await {
            Ok(admissions) => admissions,
            // The store cannot answer: refusing is the only way to keep a budget.
            Err(error) => {
                tracing::error!(%error, "reserving spend failed");
                return Err(ApiError::new(
                    ErrorKind::Unavailable,
                    "Spend limits cannot be checked right now; try again shortly.",
                )
                .with_code("spend_store_unavailable"));
            }
        };
        if let Some(((window, limit), refused)) = limited
            .iter()
            .zip(&admissions)
            .find(|(_, admission)| !admission.admitted)
        {
            return Err(period_refusal(
                window,
                *limit,
                refused.count,
                micros,
                None,
                now,
            ));
        }
        Ok(reservation(
            limited.into_iter().map(|(window, _)| window).collect(),
        ))
    }

    /// The window `now` falls in of each period `org` limits, with that limit in micro-dollars.
    fn limited_windows(&self, org: &Organization, now: Timestamp) -> Vec<(Window, u64)> {
        let current = self
            .calendar
            .windows(period::time_zone(&org.time_zone), now);
        let limits = &org.spend.limits;
        [limits.daily_usd, limits.weekly_usd, limits.monthly_usd]
            .into_iter()
            .zip(current.iter())
            .filter_map(|(usd, window)| usd.map(|usd| (window.clone(), usd_to_micros(usd))))
            .collect()
    }

    /// Records a finished request of `org` that cost `actual_micros`: replaces the
    /// reservation in the windows that hold one (written at once, a limit reads them), adds the
    /// cost to the other periods (day, week and month are always counted, for reports and
    /// alerts), and counts the hour's spend and requests for the anomaly detector; all through
    /// the counter writer, without waiting for the store.
    pub fn settle(
        &self,
        reservation: Option<&Reservation>,
        org: &Organization,
        actual_micros: u64,
        now: Timestamp,
    ) {
        let actual = i64::try_from(actual_micros).unwrap_or(i64::MAX);
        let held = reservation.map_or(0, |r| i64::try_from(r.micros).unwrap_or(i64::MAX));
        let current = self
            .calendar
            .windows(period::time_zone(&org.time_zone), now);
        for window in current.iter() {
            let p = window.period;
            let reserved = reservation.and_then(|r| r.windows.iter().find(|w| w.period == p));
            let (window, delta, urgency) = match reserved {
                Some(held_in) => (held_in, actual - held, Urgency::Limit),
                None => (window, actual, Urgency::Report),
            };
            self.writer.adjust(
                keys::spend(p, &org.id),
                window.start,
                delta,
                keys::spend_expiry(window),
                urgency,
            );
        }
        let hour = period::hour_start(now);
        let expires = keys::hourly_expiry(hour);
        self.writer.adjust(
            keys::hourly(keys::Metric::Spend, &org.id),
            hour,
            actual,
            expires,
            Urgency::Report,
        );
        self.writer.adjust(
            keys::hourly(keys::Metric::Requests, &org.id),
            hour,
            1,
            expires,
            Urgency::Report,
        );
    }
}

/// A 402 for a request the budget cannot pay, naming the limit and period.
pub fn refusal(allowance: &Allowance, worst_micros: u64, model: &str, now: Timestamp) -> ApiError {
    match &allowance.binding {
        Binding::PerRequest { limit_micros } => ApiError::new(
            ErrorKind::BudgetExceeded,
            format!(
                "This request may cost up to ${} on `{model}`, above the organisation's \
                 per-request limit (per_request_usd) of ${}. Lower max_tokens, shorten the \
                 prompt or choose a cheaper model.",
                dollars(worst_micros),
                dollars(*limit_micros)
            ),
        )
        .with_code("per_request_limit_exceeded"),
        Binding::Period {
            window,
            limit_micros,
            spent_micros,
        } => period_refusal(
            window,
            *limit_micros,
            *spent_micros,
            worst_micros,
            Some(model),
            now,
        ),
    }
}

fn period_refusal(
    window: &Window,
    limit_micros: u64,
    spent_micros: u64,
    worst_micros: u64,
    model: Option<&str>,
    now: Timestamp,
) -> ApiError {
    let on = model.map(|m| format!(" on `{m}`")).unwrap_or_default();
    let left = limit_micros.saturating_sub(spent_micros);
    let secs = u64::try_from((window.end.millis() - now.millis()).max(1_000) / 1_000).unwrap_or(1);
    ApiError::new(
        ErrorKind::BudgetExceeded,
        format!(
            "Spend limit reached: the organisation's {} limit ({}) of ${} has ${} left for \
             {} {}, and this request may cost up to ${}{on}. It resets when the {} ends.",
            window.period.adjective(),
            window.period.limit_name(),
            dollars(limit_micros),
            dollars(left),
            window.period.as_str(),
            window.label,
            dollars(worst_micros),
            window.period.as_str(),
        ),
    )
    .with_code("spend_limit_exceeded")
    .with_retry_after(Some(Duration::from_secs(secs)))
}

/// Micro-dollars as dollars for people: `0.0123`, `5`, `0.000001`.
pub fn dollars(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}
