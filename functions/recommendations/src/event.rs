//! The event a schedule sends. EventBridge Scheduler invokes the function with the schedule's
//! `Input` as the whole payload (no EventBridge envelope); the template's input is
//! `{"source": "llm-gateway.scheduler", "scheduled_time": "<aws.scheduler.scheduled-time>"}`.
//! Every field is optional, so `{}` (a manual run) works too.

use anyhow::Context;
use serde::Deserialize;

/// The window analysed when the event names none: a week, the schedule's period.
pub const DEFAULT_DAYS: u32 = 7;
/// The store keeps receipts 30 days by default; a longer window reads nothing more.
pub const MAX_DAYS: u32 = 90;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEvent {
    /// Who sent it, for the logs.
    #[serde(default)]
    pub source: Option<String>,
    /// When the schedule fired (RFC 3339), for the logs.
    #[serde(default)]
    pub scheduled_time: Option<String>,
    /// Days of receipts to analyse, 1 to [`MAX_DAYS`].
    #[serde(default = "default_days")]
    pub days: u32,
    /// Only these organisations; every organisation when absent.
    #[serde(default)]
    pub org_ids: Option<Vec<String>>,
}

fn default_days() -> u32 {
    DEFAULT_DAYS
}

impl ScheduleEvent {
    pub fn parse(text: &str) -> anyhow::Result<ScheduleEvent> {
        let value: serde_json::Value =
            serde_json::from_str(text).context("the event is not JSON")?;
        Self::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> anyhow::Result<ScheduleEvent> {
        // serde would also read a struct from an array; a schedule's input is an object.
        anyhow::ensure!(value.is_object(), "the event is not a JSON object");
        let event: ScheduleEvent =
            serde_json::from_value(value).context("the event is not a recommendations schedule")?;
        anyhow::ensure!(
            (1..=MAX_DAYS).contains(&event.days),
            "days must be between 1 and {MAX_DAYS}, not {}",
            event.days
        );
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_in_events_parses() {
        let event = ScheduleEvent::parse(include_str!(
            "../../../events/recommendations-schedule.json"
        ))
        .unwrap();
        assert_eq!(event.days, DEFAULT_DAYS);
        assert_eq!(event.source.as_deref(), Some("llm-gateway.scheduler"));
    }

    #[test]
    fn an_empty_event_analyses_a_week_of_every_organisation() {
        let event = ScheduleEvent::parse("{}").unwrap();
        assert_eq!(event.days, 7);
        assert_eq!(event.org_ids, None);
    }

    #[test]
    fn bad_events_are_refused_with_a_reason() {
        for bad in [
            "[]",
            "{\"days\": 0}",
            "{\"days\": 91}",
            "{\"days\": -1}",
            "{\"dayz\": 7}",
            "nope",
        ] {
            assert!(ScheduleEvent::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
