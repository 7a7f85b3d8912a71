//! Calendar periods in an organisation's time zone: the day, the ISO week (from Monday) and
//! the month that contain an instant, as UTC instants for the store's counter windows.
//!
//! A period starts at local midnight; where a daylight-saving change skips midnight, at the
//! first instant of that local day. An unknown time-zone name counts as UTC (organisations
//! are validated when written; this only keeps old or hand-edited records working).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone};
use chrono_tz::Tz;
use gateway_store::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Day, Period::Week, Period::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// How the limit of this period is named in settings and errors.
    pub fn limit_name(self) -> &'static str {
        match self {
            Period::Day => "daily_usd",
            Period::Week => "weekly_usd",
            Period::Month => "monthly_usd",
        }
    }

    pub fn adjective(self) -> &'static str {
        match self {
            Period::Day => "daily",
            Period::Week => "weekly",
            Period::Month => "monthly",
        }
    }
}

/// One period of one organisation: `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub period: Period,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `2026-11-26`, `2026-W48`, `2026-11`: the period as people name it.
    pub label: String,
}

/// The organisation's time zone, UTC when the name is unknown.
pub fn time_zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// Whether `name` is an IANA time zone this build knows.
pub fn is_time_zone(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

/// The period of kind `period` that contains `now` in `tz`.
pub fn window(period: Period, tz: Tz, now: Timestamp) -> Window {
    let local = local_date(tz, now);
    let (first, next, label) = match period {
        Period::Day => (
            local,
            local.checked_add_days(Days::new(1)).unwrap_or(local),
            local.format("%Y-%m-%d").to_string(),
        ),
        Period::Week => {
            let monday = local
                .checked_sub_days(Days::new(u64::from(local.weekday().num_days_from_monday())))
                .unwrap_or(local);
            let week = local.iso_week();
            (
                monday,
                monday.checked_add_days(Days::new(7)).unwrap_or(monday),
                format!("{}-W{:02}", week.year(), week.week()),
            )
        }
        Period::Month => {
            let first = local.with_day(1).unwrap_or(local);
            (
                first,
                first.checked_add_months(Months::new(1)).unwrap_or(first),
                local.format("%Y-%m").to_string(),
            )
        }
    };
    Window {
        period,
        start: midnight(tz, first),
        end: midnight(tz, next),
        label,
    }
}

/// The local calendar date of `at` in `tz`.
pub fn local_date(tz: Tz, at: Timestamp) -> NaiveDate {
    let utc = DateTime::from_timestamp_millis(at.millis()).unwrap_or_default();
    utc.with_timezone(&tz).date_naive()
}

/// The first instant of local `date` in `tz`.
fn midnight(tz: Tz, date: NaiveDate) -> Timestamp {
    // Midnight, or, where a daylight-saving jump skips it, the first local hour that exists.
    for hour in 0..=3 {
        if let Some(naive) = date.and_hms_opt(hour, 0, 0)
            && let Some(instant) = tz.from_local_datetime(&naive).earliest()
        {
            return Timestamp(instant.timestamp_millis());
        }
    }
    Timestamp(
        date.and_hms_opt(0, 0, 0)
            .map_or(0, |naive| naive.and_utc().timestamp_millis()),
    )
}

/// The day, week and month that contain an instant, in the order of [`Period::ALL`].
pub type Windows = [Window; 3];

/// Each time zone's current [`Windows`], worked out once a day rather than on every request
/// (time-zone arithmetic and three labels each time). Valid while the day holds the instant:
/// the week and the month hold the whole day.
#[derive(Default)]
pub struct Calendar {
    by_zone: Mutex<HashMap<Tz, Arc<Windows>>>,
}

impl Calendar {
    pub fn windows(&self, tz: Tz, now: Timestamp) -> Arc<Windows> {
        let mut by_zone = self.by_zone.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(windows) = by_zone.get(&tz)
            && windows[0].start <= now
            && now < windows[0].end
        {
            return windows.clone();
        }
        let windows = Arc::new(Period::ALL.map(|p| window(p, tz, now)));
        by_zone.insert(tz, windows.clone());
        windows
    }
}

/// The UTC hour that contains `at`: the anomaly detector's buckets.
pub fn hour_start(at: Timestamp) -> Timestamp {
    Timestamp(at.millis() - at.millis().rem_euclid(3_600_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_gives_the_windows_of_the_instant_asked_across_midnight() {
        let calendar = Calendar::default();
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        for instant in [
            "2026-11-29T14:59:59.999Z",
            "2026-11-29T15:00:00Z",
            "2026-11-30T14:59:59Z",
            "2026-12-01T15:00:00Z",
            "2026-11-01T00:00:00Z",
        ] {
            let now = at(instant);
            let expected = Period::ALL.map(|p| window(p, tz, now));
            assert_eq!(*calendar.windows(tz, now), expected, "{instant}");
            assert_eq!(
                *calendar.windows(Tz::UTC, now),
                Period::ALL.map(|p| window(p, Tz::UTC, now))
            );
        }
    }

    fn at(rfc3339: &str) -> Timestamp {
        Timestamp(
            DateTime::parse_from_rfc3339(rfc3339)
                .unwrap()
                .timestamp_millis(),
        )
    }

    #[test]
    fn a_day_in_tokyo_starts_at_local_midnight() {
        // 16:30 UTC on the 26th is 01:30 on the 27th in Tokyo (UTC+9).
        let w = window(
            Period::Day,
            time_zone("Asia/Tokyo"),
            at("2026-11-26T16:30:00Z"),
        );
        assert_eq!(w.label, "2026-11-27");
        assert_eq!(w.start, at("2026-11-26T15:00:00Z"));
        assert_eq!(w.end, at("2026-11-27T15:00:00Z"));
        // One minute before local midnight is still the 26th.
        let w = window(
            Period::Day,
            time_zone("Asia/Tokyo"),
            at("2026-11-26T14:59:00Z"),
        );
        assert_eq!(w.label, "2026-11-26");
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first_in_new_york() {
        let tz = time_zone("America/New_York");
        // Sunday 2026-11-29 22:00 in New York is Monday 03:00 UTC.
        let w = window(Period::Week, tz, at("2026-11-30T03:00:00Z"));
        assert_eq!(w.label, "2026-W48");
        assert_eq!(w.start, at("2026-11-23T05:00:00Z"));
        assert_eq!(w.end, at("2026-11-30T05:00:00Z"));
        let w = window(Period::Month, tz, at("2026-12-01T03:00:00Z"));
        assert_eq!(w.label, "2026-11");
        assert_eq!(w.start, at("2026-11-01T04:00:00Z"));
        assert_eq!(w.end, at("2026-12-01T05:00:00Z"));
    }

    #[test]
    fn a_day_with_a_daylight_saving_change_is_23_hours_long() {
        // Europe/Paris moved to summer time on 2026-03-29 at 02:00 local.
        let w = window(
            Period::Day,
            time_zone("Europe/Paris"),
            at("2026-03-29T12:00:00Z"),
        );
        assert_eq!(w.start, at("2026-03-28T23:00:00Z"));
        assert_eq!(w.end, at("2026-03-29T22:00:00Z"));
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_at_its_first_hour() {
        // Santiago skipped 2026-09-06 00:00 (clocks went to 01:00, UTC-3).
        let w = window(
            Period::Day,
            time_zone("America/Santiago"),
            at("2026-09-06T12:00:00Z"),
        );
        assert_eq!(w.start, at("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn unknown_zones_are_utc() {
        assert_eq!(time_zone("Mars/Olympus"), Tz::UTC);
        assert!(is_time_zone("Europe/Paris"));
        assert!(!is_time_zone("Mars/Olympus"));
    }
}
