//! Spend in the admin API:
//!
//! - `GET /admin/v1/orgs/{org_id}/spend/settings` and `PUT` (ManageSettings): the limits and
//!   the alert, in the documented shape `{"limits": {...}, "alerts": {...}}`; a `PUT` field
//!   left out stays as it is, `"alerts": null` removes the alert. A generated webhook secret
//!   is in the `PUT` answer once (`webhook_secret`), never again.
//! - `GET /admin/v1/orgs/{org_id}/spend?days=30` (ViewUsage): the current day, week and month
//!   against their limits, and spend and savings by day, model and key.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use gateway_core::ApiError;
use gateway_store::Timestamp;
use gateway_store::model::member::Action;
use gateway_store::model::spend::SpendLimits;
use serde::{Deserialize, Serialize};

use crate::admin::auth::OrgMember;
use crate::admin::errors::{AdminJson, AdminQuery, from_store};
use crate::admin::store_of;
use crate::errors::ErrorResponse;
use crate::spend::report::{self, SpendReport};
use crate::spend::settings::{self, AlertUpdate, SettingsView};
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/orgs/{org_id}/spend/settings",
            get(get_settings).put(put_settings),
        )
        .route("/orgs/{org_id}/spend", get(get_report))
}

/// What `PUT` may change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    #[serde(default)]
    pub limits: Option<SpendLimits>,
    /// Absent: unchanged; `null`: removed.
    #[serde(default, deserialize_with = "present")]
    pub alerts: Option<Option<AlertUpdate>>,
}

/// Tells a `null` field (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Serialize)]
pub struct SettingsAnswer {
    #[serde(flatten)]
    pub settings: SettingsView,
    /// The generated signing secret, in this answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Days back from now the breakdowns cover, 1 to 366 (default 30).
    #[serde(default)]
    pub days: Option<i64>,
}

#[utoipa::path(
    get,
    operation_id = "getSpendSettings",
    path = "/admin/v1/orgs/{org_id}/spend/settings",
    tag = "spend",
    summary = "Spend limits and the alert (the webhook secret never shown)",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    security(("admin_token" = [])),
    responses((status = 200, description = "`{limits, alerts}`", body = serde_json::Value), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn get_settings(member: OrgMember) -> Result<Json<SettingsView>, ErrorResponse> {
    member.require(Action::ManageSettings)?;
    Ok(Json(SettingsView::from(member.org.as_ref())))
}

#[utoipa::path(
    put,
    operation_id = "updateSpendSettings",
    path = "/admin/v1/orgs/{org_id}/spend/settings",
    tag = "spend",
    summary = "Set spend limits and the alert; a generated webhook secret is in this answer only",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    request_body = serde_json::Value,
    security(("admin_token" = [])),
    responses((status = 200, description = "The settings now in force", body = serde_json::Value), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn put_settings(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminJson(update): AdminJson<SettingsUpdate>,
) -> Result<Json<SettingsAnswer>, ErrorResponse> {
    member.require(Action::ManageSettings)?;
    let store = store_of(&state)?;
    let mut org = (*member.org).clone();
    if let Some(limits) = update.limits {
        org = settings::set_limits(store.as_ref(), org, limits, &member.user_id)
            .await
            .map_err(from_store)?;
    }
    let mut webhook_secret = None;
    if let Some(alert) = update.alerts {
        let (changed, generated) = settings::set_alert(store.as_ref(), org, alert, &member.user_id)
            .await
            .map_err(from_store)?;
        org = changed;
        webhook_secret = generated;
    }
    Ok(Json(SettingsAnswer {
        settings: SettingsView::from(&org),
        webhook_secret,
    }))
}

#[utoipa::path(
    get,
    operation_id = "getSpendReport",
    path = "/admin/v1/orgs/{org_id}/spend",
    tag = "spend",
    summary = "Spend this day, week and month against the limits; requests, cost and savings by day, model and key",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("days" = Option<u32>, Query, description = "Days back, 30 by default")),
    security(("admin_token" = [])),
    responses((status = 200, description = "The report", body = serde_json::Value), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn get_report(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminQuery(query): AdminQuery<ReportQuery>,
) -> Result<Json<SpendReport>, ErrorResponse> {
    member.require(Action::ViewUsage)?;
    let days = query.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::invalid_param("days", "`days` must be from 1 to 366.").into());
    }
    let store = store_of(&state)?;
    let now = Timestamp::now();
    let report = report::report(
        store.as_ref(),
        &member.org,
        now.plus_days(-days),
        now.plus_millis(1),
        now,
    )
    .await
    .map_err(from_store)?;
    Ok(Json(report))
}
