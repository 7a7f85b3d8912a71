//! Organisations and their plans. A plan fixes the default limits (requests and tokens per
//! minute, requests per day); enterprise organisations carry their own.

use gateway_core::routing::OrgRoutingPreferences;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::model::id::new_id;
use crate::model::spend::SpendSettings;
use crate::time::Timestamp;

/// The limits an organisation works under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    pub requests_per_minute: u64,
    pub tokens_per_minute: u64,
    pub requests_per_day: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Starter,
    Pro,
    /// Limits agreed per organisation: [`Organization::custom_limits`] is required.
    Enterprise,
}

impl Plan {
    /// The plan's published limits; `None` for enterprise, whose limits are custom.
    pub fn standard_limits(self) -> Option<PlanLimits> {
        let (rpm, tpm, daily) = match self {
            Plan::Free => (20, 40_000, 1_000),
            Plan::Starter => (100, 200_000, 10_000),
            Plan::Pro => (500, 1_000_000, 100_000),
            Plan::Enterprise => return None,
        };
        Some(PlanLimits {
            requests_per_minute: rpm,
            tokens_per_minute: tpm,
            requests_per_day: daily,
        })
    }
}

/// How long audit events are kept: 7 to 365 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct AuditRetentionDays(u16);

impl AuditRetentionDays {
    pub const MIN: u16 = 7;
    pub const MAX: u16 = 365;
    /// What a new organisation gets.
    pub const DEFAULT: AuditRetentionDays = AuditRetentionDays(90);

    pub fn new(days: u16) -> StoreResult<Self> {
        if (Self::MIN..=Self::MAX).contains(&days) {
            Ok(AuditRetentionDays(days))
        } else {
            Err(StoreError::Invalid(format!(
                "audit retention must be {} to {} days, not {days}",
                Self::MIN,
                Self::MAX
            )))
        }
    }

    pub fn days(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for AuditRetentionDays {
    type Error = StoreError;
    fn try_from(days: u16) -> StoreResult<Self> {
        AuditRetentionDays::new(days)
    }
}

impl From<AuditRetentionDays> for u16 {
    fn from(days: AuditRetentionDays) -> u16 {
        days.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    /// Unique across the store, so it can name the organisation in the CLI and dashboard.
    pub name: String,
    pub plan: Plan,
    /// Required on the enterprise plan, refused on the others (their limits are the plan's).
    pub custom_limits: Option<PlanLimits>,
    /// IANA name (`Europe/Paris`): daily limits and reports follow the organisation's day.
    pub time_zone: String,
    pub audit_retention: AuditRetentionDays,
    pub created_at: Timestamp,
    /// Spend limits and alerts; none for records written before they existed.
    #[serde(default)]
    pub spend: SpendSettings,
    /// How `auto` routes and falls back for this organisation; the configured `[routing]`
    /// preferences when absent. Absent in bodies written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<OrgRoutingPreferences>,
}

impl Organization {
    /// A new organisation on `plan` with a fresh id, UTC, and the default audit retention.
    pub fn new(name: &str, plan: Plan, now: Timestamp) -> Self {
        Organization {
            id: new_id("org"),
            name: name.to_owned(),
            plan,
            custom_limits: None,
            time_zone: "UTC".to_owned(),
            audit_retention: AuditRetentionDays::DEFAULT,
            created_at: now,
            spend: SpendSettings::default(),
            routing: None,
        }
    }

    /// The limits in force: the plan's, or the custom ones on enterprise.
    pub fn limits(&self) -> StoreResult<PlanLimits> {
        match (self.plan.standard_limits(), self.custom_limits) {
            (Some(limits), None) => Ok(limits),
            (None, Some(custom)) => Ok(custom),
            (None, None) => Err(StoreError::Invalid(
                "the enterprise plan needs custom limits".to_owned(),
            )),
            (Some(_), Some(_)) => Err(StoreError::Invalid(
                "custom limits are for the enterprise plan only".to_owned(),
            )),
        }
    }

    /// The rules every store checks before writing an organisation.
    pub fn validate(&self) -> StoreResult<()> {
        if self.id.is_empty() || self.name.trim().is_empty() {
            return Err(StoreError::Invalid(
                "an organisation needs an id and a name".to_owned(),
            ));
        }
        if self.time_zone.trim().is_empty() {
            return Err(StoreError::Invalid("the time zone is empty".to_owned()));
        }
        self.spend.validate()?;
        if let Some(routing) = &self.routing {
            routing
                .validate()
                .map_err(|e| StoreError::Invalid(format!("routing.{e}")))?;
        }
        self.limits().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_carry_the_published_limits() {
        let free = Plan::Free.standard_limits().unwrap();
        assert_eq!(
            (
                free.requests_per_minute,
                free.tokens_per_minute,
                free.requests_per_day
            ),
            (20, 40_000, 1_000)
        );
        let pro = Plan::Pro.standard_limits().unwrap();
        assert_eq!(pro.tokens_per_minute, 1_000_000);
        assert!(Plan::Enterprise.standard_limits().is_none());
    }

    #[test]
    fn enterprise_needs_custom_limits_and_others_refuse_them() {
        let mut org = Organization::new("acme", Plan::Enterprise, Timestamp(0));
        assert!(org.validate().is_err());
        let custom = PlanLimits {
            requests_per_minute: 9_000,
            tokens_per_minute: 9_000_000,
            requests_per_day: 1_000_000,
        };
        org.custom_limits = Some(custom);
        assert_eq!(org.limits().unwrap(), custom);
        org.plan = Plan::Starter;
        assert!(org.validate().is_err());
    }

    #[test]
    fn routing_preferences_are_checked_and_older_bodies_still_read() {
        let mut org = Organization::new("acme", Plan::Free, Timestamp(0));
        let mut body = serde_json::to_value(&org).unwrap();
        assert!(body.get("routing").is_none());
        body.as_object_mut().unwrap().remove("routing");
        let read: Organization = serde_json::from_value(body).unwrap();
        assert_eq!(read.routing, None);
        org.routing = Some(OrgRoutingPreferences {
            quality_threshold: 2.0,
            ..OrgRoutingPreferences::default()
        });
        let err = org.validate().unwrap_err().to_string();
        assert!(err.contains("routing.quality_threshold"), "{err}");
    }

    #[test]
    fn audit_retention_is_bounded() {
        assert!(AuditRetentionDays::new(6).is_err());
        assert!(AuditRetentionDays::new(366).is_err());
        assert_eq!(AuditRetentionDays::new(7).unwrap().days(), 7);
        assert!(serde_json::from_str::<AuditRetentionDays>("3").is_err());
    }
}
