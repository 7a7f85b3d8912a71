//! Spend and savings for people: the current day, week and month against their limits (from
//! the counters), and breakdowns by day (in the organisation's time zone), model and key over
//! a range (from the request log, so only as far back as `[store] receipt_retention_days`).

use std::collections::BTreeMap;

use gateway_store::model::org::Organization;
use gateway_store::model::query::ReceiptQuery;
use gateway_store::{Store, StoreResult, Timestamp};
use serde::Serialize;

use super::budget::{micros_to_usd, usd_to_micros};
use super::keys;
use super::period::{self, Period};

/// Receipts read per report at most: a bound on one report's cost, said in the answer.
const MAX_RECEIPTS: usize = 100_000;

#[derive(Debug, Clone, Serialize)]
pub struct SpendReport {
    pub org_id: String,
    pub time_zone: String,
    /// The current periods.
    pub periods: Vec<PeriodSpend>,
    pub from: String,
    pub until: String,
    pub total: Totals,
    pub by_day: Vec<Row>,
    pub by_model: Vec<Row>,
    pub by_key: Vec<Row>,
    /// Whether the range held more receipts than one report reads.
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodSpend {
    pub period: Period,
    pub label: String,
    pub start: String,
    pub end: String,
    pub spent_usd: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_usd: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub requests: u64,
    pub cost_usd: f64,
    pub savings_usd: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The day (`2026-11-26`), the model (`provider/model`) or the key id.
    pub key: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// The report of `org` over `[from, until)`.
pub async fn report(
    store: &dyn Store,
    org: &Organization,
    from: Timestamp,
    until: Timestamp,
    now: Timestamp,
) -> StoreResult<SpendReport> {
    let tz = period::time_zone(&org.time_zone);
    let limits = org.spend.limits;
    let mut periods = Vec::new();
    for (p, limit_usd) in [
        (Period::Day, limits.daily_usd),
        (Period::Week, limits.weekly_usd),
        (Period::Month, limits.monthly_usd),
    ] {
        let window = period::window(p, tz, now);
        let spent = store.get(&keys::spend(p, &org.id), window.start).await?;
        periods.push(PeriodSpend {
            period: p,
            label: window.label,
            start: window.start.to_rfc3339(),
            end: window.end.to_rfc3339(),
            spent_usd: micros_to_usd(spent),
            limit_usd,
            remaining_usd: limit_usd.map(|l| micros_to_usd(usd_to_micros(l).saturating_sub(spent))),
        });
    }

    let mut query = ReceiptQuery::for_org(&org.id);
    query.from = Some(from);
    query.until = Some(until);
    query.limit = usize::MAX;
    let mut total = Totals::default();
    let mut by_day: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_model: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_key: BTreeMap<String, Totals> = BTreeMap::new();
    let mut read = 0;
    let mut truncated = false;
    loop {
        let page = store.query_receipts(&query, now).await?;
        for record in &page.items {
            // Requests answered before routing (refusals, listings) cost nothing and name no
            // model: they are not spend.
            if record.model.is_empty() {
                continue;
            }
            let savings = record
                .details
                .to_value()
                .pointer("/cost/savings_vs_default_usd")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(0.0);
            let day = period::local_date(tz, record.at)
                .format("%Y-%m-%d")
                .to_string();
            let key = record.key_id.clone().unwrap_or_default();
            for totals in [
                &mut total,
                by_day.entry(day).or_default(),
                by_model.entry(record.model.clone()).or_default(),
                by_key.entry(key).or_default(),
            ] {
                totals.requests += 1;
                totals.cost_usd += record.cost_usd;
                totals.savings_usd += savings;
            }
        }
        read += page.items.len();
        match page.next {
            Some(cursor) if read < MAX_RECEIPTS => query.cursor = Some(cursor),
            Some(_) => {
                truncated = true;
                break;
            }
            None => break,
        }
    }
    let rows = |map: BTreeMap<String, Totals>| -> Vec<Row> {
        map.into_iter()
            .map(|(key, totals)| Row {
                key,
                totals: rounded(totals),
            })
            .collect()
    };
    Ok(SpendReport {
        org_id: org.id.clone(),
        time_zone: org.time_zone.clone(),
        periods,
        from: from.to_rfc3339(),
        until: until.to_rfc3339(),
        total: rounded(total),
        by_day: rows(by_day),
        by_model: rows(by_model),
        by_key: rows(by_key),
        truncated,
    })
}

fn rounded(totals: Totals) -> Totals {
    let round = |x: f64| (x * 1e8).round() / 1e8;
    Totals {
        requests: totals.requests,
        cost_usd: round(totals.cost_usd),
        savings_usd: round(totals.savings_usd),
    }
}
