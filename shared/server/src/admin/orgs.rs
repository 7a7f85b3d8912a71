//! `GET` and `PATCH /admin/v1/orgs/{org_id}`: the organisation, its plan and limits, time zone
//! and audit retention. Any member may read it; only owners change it.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use gateway_core::ApiError;
use gateway_store::model::member::Action;
use gateway_store::model::org::{AuditRetentionDays, Organization, Plan, PlanLimits};
use serde::{Deserialize, Serialize};

use crate::admin::audit;
use crate::admin::auth::OrgMember;
use crate::admin::errors::{AdminJson, from_store};
use crate::errors::ErrorResponse;
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/orgs/{org_id}", get(get_org).patch(update_org))
}

/// An organisation as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    /// The limits in force: the plan's, or the custom ones on enterprise.
    pub limits: Option<PlanLimits>,
    pub custom_limits: Option<PlanLimits>,
    pub time_zone: String,
    pub audit_retention_days: u16,
    pub created_at: String,
}

impl From<&Organization> for OrgView {
    fn from(org: &Organization) -> Self {
        OrgView {
            id: org.id.clone(),
            name: org.name.clone(),
            plan: org.plan,
            limits: org.limits().ok(),
            custom_limits: org.custom_limits,
            time_zone: org.time_zone.clone(),
            audit_retention_days: org.audit_retention.days(),
            created_at: org.created_at.to_rfc3339(),
        }
    }
}

/// What `PATCH` may change; absent fields stay as they are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgUpdate {
    pub name: Option<String>,
    pub plan: Option<Plan>,
    /// Required when the plan is (or becomes) enterprise; refused on the others.
    pub custom_limits: Option<PlanLimits>,
    /// An IANA time zone name such as `Europe/Paris`.
    pub time_zone: Option<String>,
    /// 7 to 365.
    pub audit_retention_days: Option<u16>,
}

async fn get_org(member: OrgMember) -> Json<OrgView> {
    Json(OrgView::from(member.org.as_ref()))
}

async fn update_org(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminJson(update): AdminJson<OrgUpdate>,
) -> Result<Json<OrgView>, ErrorResponse> {
    member.require(Action::ManageOrganization)?;
    let mut org = (*member.org).clone();
    let before = OrgView::from(&org);
    if let Some(name) = update.name {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(
                ApiError::invalid_param("name", "`name` must be 1 to 200 characters.").into(),
            );
        }
        org.name = name.to_owned();
    }
    if let Some(plan) = update.plan {
        org.plan = plan;
        if plan != Plan::Enterprise {
            org.custom_limits = None;
        }
    }
    if let Some(limits) = update.custom_limits {
        if org.plan != Plan::Enterprise {
            return Err(ApiError::invalid_param(
                "custom_limits",
                "`custom_limits` are for the enterprise plan only.",
            )
            .into());
        }
        org.custom_limits = Some(limits);
    }
    if org.plan == Plan::Enterprise && org.custom_limits.is_none() {
        return Err(ApiError::invalid_param(
            "custom_limits",
            "The enterprise plan needs `custom_limits`.",
        )
        .into());
    }
    if let Some(zone) = update.time_zone {
        if !is_time_zone_name(&zone) {
            return Err(ApiError::invalid_param(
                "time_zone",
                "`time_zone` must be an IANA time zone name such as `Europe/Paris` or `UTC`.",
            )
            .into());
        }
        org.time_zone = zone;
    }
    if let Some(days) = update.audit_retention_days {
        org.audit_retention = AuditRetentionDays::new(days).map_err(|_| {
            ApiError::invalid_param(
                "audit_retention_days",
                format!(
                    "`audit_retention_days` must be {} to {}.",
                    AuditRetentionDays::MIN,
                    AuditRetentionDays::MAX
                ),
            )
        })?;
    }
    let stored = state.access.as_ref().map(|a| a.store.clone());
    let Some(store) = stored else {
        return Err(ApiError::internal().into());
    };
    store.update_org(&org).await.map_err(from_store)?;
    let after = OrgView::from(&org);
    audit::record(
        &state,
        &member,
        "org.update",
        &org.id,
        serde_json::json!({ "before": before, "after": after }),
    );
    Ok(Json(after))
}

/// The shape of an IANA name (`UTC`, `Europe/Paris`, `America/Argentina/Buenos_Aires`,
/// `Etc/GMT+5`). No time zone database ships with the gateway, so the name is checked for
/// form, not looked up.
fn is_time_zone_name(zone: &str) -> bool {
    !zone.is_empty()
        && zone.len() <= 64
        && zone.split('/').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zone_names_are_checked_for_form() {
        for good in [
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(is_time_zone_name(good), "{good}");
        }
        for bad in [
            "",
            "/Paris",
            "Europe/",
            "Europe//Paris",
            "Paris; DROP",
            "1/2",
        ] {
            assert!(!is_time_zone_name(bad), "{bad}");
        }
    }
}
