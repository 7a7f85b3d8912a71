//! Routing in the admin API: the organisation's routing preferences (read by any member,
//! replaced by members allowed to manage settings) and the providers' health that `auto` reads
//! (breaker states and live statistics, with a breaker reset for owners and admins).
//!
//! - `GET /orgs/{org_id}/routing`: the preferences in force, the organisation's own or, when it
//!   stored none, the configured ones.
//! - `PUT /orgs/{org_id}/routing`: replaces them with the documented object; every model and
//!   provider it names must be routable here, and an error names the field.
//! - `GET /orgs/{org_id}/routing/health`: every model's breaker and live statistics.
//! - `POST /orgs/{org_id}/routing/breakers/reset` `{"model": "openai/gpt-4o"}`: closes a breaker.
//!
//! Breakers are the gateway's, not the organisation's: a reset lets every organisation's
//! traffic through again, in every gateway process on the same store, so it is audited like any
//! change. Both routes read the shared breakers first, so they show what every process sees.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use gateway_core::ApiError;
use gateway_core::routing::{InvalidPreference, OrgRoutingPreferences};
use gateway_store::model::member::Action;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::audit;
use crate::admin::auth::OrgMember;
use crate::admin::errors::{AdminJson, from_store, not_found};
use crate::errors::ErrorResponse;
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/orgs/{org_id}/routing",
            get(get_preferences).put(put_preferences),
        )
        .route("/orgs/{org_id}/routing/health", get(health))
        .route("/orgs/{org_id}/routing/breakers/reset", post(reset_breaker))
}

/// The preferences in force for the member's organisation.
fn in_force(state: &AppState, member: &OrgMember) -> OrgRoutingPreferences {
    member
        .org
        .routing
        .clone()
        .unwrap_or_else(|| OrgRoutingPreferences::describing(&state.preferences))
}

#[utoipa::path(
    get,
    operation_id = "getRoutingPreferences",
    path = "/admin/v1/orgs/{org_id}/routing",
    tag = "routing",
    summary = "The routing preferences in force for the organisation",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    security(("admin_token" = [])),
    responses((status = 200, description = "The preferences", body = serde_json::Value), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn get_preferences(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
) -> Json<OrgRoutingPreferences> {
    Json(in_force(&state, &member))
}

#[utoipa::path(
    put,
    operation_id = "updateRoutingPreferences",
    path = "/admin/v1/orgs/{org_id}/routing",
    tag = "routing",
    summary = "Replace the organisation's routing preferences",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    request_body = serde_json::Value,
    security(("admin_token" = [])),
    responses((status = 200, description = "The preferences now in force", body = serde_json::Value), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn put_preferences(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    body: Bytes,
) -> Result<Json<OrgRoutingPreferences>, ErrorResponse> {
    member.require(Action::ManageSettings)?;
    let invalid = |e: InvalidPreference| {
        if e.field.is_empty() {
            ApiError::invalid_request(format!("Invalid routing preferences: {}.", e.message))
                .with_code("invalid_json")
        } else {
            ApiError::invalid_param(&e.field, format!("`{}` {}.", e.field, e.message))
        }
    };
    let preferences = OrgRoutingPreferences::from_json(&body).map_err(invalid)?;
    state
        .router
        .check_org_preferences(&preferences)
        .map_err(invalid)?;
    let before = in_force(&state, &member);
    let mut org = (*member.org).clone();
    org.routing = Some(preferences.clone());
    member
        .access()
        .store
        .update_org(&org)
        .await
        .map_err(from_store)?;
    audit::record(
        &state,
        &member,
        "routing.update",
        &org.id,
        json!({ "before": before, "after": preferences }),
    );
    Ok(Json(preferences))
}

#[utoipa::path(
    get,
    operation_id = "getProviderHealth",
    path = "/admin/v1/orgs/{org_id}/routing/health",
    tag = "routing",
    summary = "Circuit breakers and live statistics of every model",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    security(("admin_token" = [])),
    responses((status = 200, description = "`{models: [...]}`", body = serde_json::Value), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn health(State(state): State<Arc<AppState>>, _member: OrgMember) -> Json<Value> {
    state.health.refresh().await;
    Json(json!({ "models": state.health.report() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerReset {
    /// `provider/model`.
    model: String,
}

#[utoipa::path(
    post,
    operation_id = "resetBreaker",
    path = "/admin/v1/orgs/{org_id}/routing/breakers/reset",
    tag = "routing",
    summary = "Close a model's circuit breaker",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    request_body = serde_json::Value,
    security(("admin_token" = [])),
    responses((status = 200, description = "The breaker after the reset", body = serde_json::Value), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn reset_breaker(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminJson(reset): AdminJson<BreakerReset>,
) -> Result<Json<Value>, ErrorResponse> {
    member.require(Action::ManageSettings)?;
    let model = state
        .router
        .chat_model(&reset.model)
        .map_err(|_| not_found("model", &reset.model).with_param("model"))?;
    state.health.refresh().await;
    let before = state.health.model_health(&model.id).breaker;
    state.health.reset_breaker(&model.id).await;
    let after = state.health.model_health(&model.id).breaker;
    audit::record(
        &state,
        &member,
        "routing.breaker_reset",
        &model.id,
        json!({ "before": before, "after": after }),
    );
    Ok(Json(json!({ "model": model.id, "breaker": after })))
}
