//! Members over the admin API: list, get, add (the new member's admin token in the answer,
//! once), change role, remove, and issue a new admin token (revoking the member's others).
//! Admins and owners manage members, but only an owner may make or unmake an owner, and the
//! last owner can be neither demoted nor removed. Any member may renew its own token.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use gateway_core::{ApiError, ErrorKind};
use gateway_store::model::audit::AuditOutcome;
use gateway_store::model::member::{Action, Member, Role};
use gateway_store::{Store, StoreError, Timestamp};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::admin::auth::OrgMember;
use crate::admin::errors::{AdminJson, from_store, not_found};
use crate::admin::store_of;
use crate::admin::{audit, membership};
use crate::errors::ErrorResponse;
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/orgs/{org_id}/members", get(list).post(add))
        .route(
            "/orgs/{org_id}/members/{user_id}",
            get(get_member).patch(change_role).delete(remove),
        )
        .route("/orgs/{org_id}/members/{user_id}/token", post(new_token))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
    pub added_at: String,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        MemberView {
            user_id: m.user_id.clone(),
            email: m.email.clone(),
            role: m.role,
            added_at: m.added_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub email: String,
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
    /// Letters, digits and `._@-`; a new `usr_…` id when absent.
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberList {
    pub data: Vec<MemberView>,
}

/// A member just added, with its admin token: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddedMember {
    pub member: MemberView,
    pub admin_token: String,
    pub token_id: String,
}

/// A new admin token: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub admin_token: String,
    pub token_id: String,
}

async fn org_member(
    store: &dyn Store,
    member: &OrgMember,
    user_id: &str,
) -> Result<Member, ApiError> {
    match store.get_member(&member.org.id, user_id).await {
        Ok(found) => Ok(found),
        Err(StoreError::NotFound(_)) => Err(not_found("member", user_id)),
        Err(error) => Err(from_store(error)),
    }
}

/// Only an owner makes, changes or removes an owner.
fn require_owner_for(
    member: &OrgMember,
    roles: &[Role],
    state: &AppState,
    action: &str,
    target: &str,
) -> Result<(), ApiError> {
    if member.role == Role::Owner || !roles.contains(&Role::Owner) {
        return Ok(());
    }
    audit::record_outcome(
        state,
        member,
        action,
        target,
        serde_json::json!({ "reason": "only an owner may grant or remove the owner role" }),
        AuditOutcome::Denied,
    );
    Err(ApiError::new(
        ErrorKind::Permission,
        "Only an owner may grant, change or remove the owner role.",
    )
    .with_code("insufficient_role"))
}

/// Audits a refused change (a conflict such as the last owner) and passes the error on.
fn audited_failure(
    state: &AppState,
    member: &OrgMember,
    action: &str,
    target: &str,
    error: ApiError,
) -> ApiError {
    audit::record_outcome(
        state,
        member,
        action,
        target,
        serde_json::json!({ "error": error.message }),
        AuditOutcome::Failure,
    );
    error
}

#[utoipa::path(
    get,
    operation_id = "listMembers",
    path = "/admin/v1/orgs/{org_id}/members",
    tag = "members",
    summary = "The members",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    security(("admin_token" = [])),
    responses((status = 200, body = MemberList), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
) -> Result<Json<serde_json::Value>, ErrorResponse> {
    member.require(Action::ViewMembers)?;
    let store = store_of(&state)?;
    let members = store
        .list_members(&member.org.id)
        .await
        .map_err(from_store)?;
    let data: Vec<MemberView> = members.iter().map(MemberView::from).collect();
    Ok(Json(serde_json::json!({ "data": data })))
}

#[utoipa::path(
    get,
    operation_id = "getMember",
    path = "/admin/v1/orgs/{org_id}/members/{user_id}",
    tag = "members",
    summary = "A member",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("user_id" = String, Path, description = "The member's user id")),
    security(("admin_token" = [])),
    responses((status = 200, body = MemberView), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn get_member(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, user_id)): Path<(String, String)>,
) -> Result<Json<MemberView>, ErrorResponse> {
    member.require(Action::ViewMembers)?;
    let store = store_of(&state)?;
    let found = org_member(store.as_ref(), &member, &user_id).await?;
    Ok(Json(MemberView::from(&found)))
}

#[utoipa::path(
    post,
    operation_id = "addMember",
    path = "/admin/v1/orgs/{org_id}/members",
    tag = "members",
    summary = "Add a member; its admin token is in the answer, once",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    request_body = NewMember,
    security(("admin_token" = [])),
    responses((status = 201, body = AddedMember), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody), (status = 409, description = "Conflicts with what exists", body = crate::admin::openapi::ErrorBody))
)]
pub async fn add(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminJson(body): AdminJson<NewMember>,
) -> Result<(StatusCode, Json<AddedMember>), ErrorResponse> {
    member.require(Action::ManageMembers)?;
    require_owner_for(&member, &[body.role], &state, "member.add", &body.email)?;
    let store = store_of(&state)?;
    let (added, issued) = membership::add_member(
        store.as_ref(),
        &member.org.id,
        &body.email,
        body.role,
        body.user_id,
        Timestamp::now(),
    )
    .await?;
    audit::record(
        &state,
        &member,
        "member.add",
        &added.user_id,
        serde_json::json!({ "email": added.email, "role": added.role.as_str() }),
    );
    Ok((
        StatusCode::CREATED,
        Json(AddedMember {
            member: MemberView::from(&added),
            admin_token: issued.secret.expose_secret().to_owned(),
            token_id: issued.token.id,
        }),
    ))
}

#[utoipa::path(
    patch,
    operation_id = "changeMemberRole",
    path = "/admin/v1/orgs/{org_id}/members/{user_id}",
    tag = "members",
    summary = "Change a member's role (never the last owner's)",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("user_id" = String, Path, description = "The member's user id")),
    request_body = RoleChange,
    security(("admin_token" = [])),
    responses((status = 200, body = MemberView), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody), (status = 409, description = "Conflicts with what exists", body = crate::admin::openapi::ErrorBody))
)]
pub async fn change_role(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, user_id)): Path<(String, String)>,
    AdminJson(body): AdminJson<RoleChange>,
) -> Result<Json<MemberView>, ErrorResponse> {
    member.require(Action::ManageMembers)?;
    let store = store_of(&state)?;
    let current = org_member(store.as_ref(), &member, &user_id).await?;
    require_owner_for(
        &member,
        &[current.role, body.role],
        &state,
        "member.role_change",
        &user_id,
    )?;
    let changed = membership::set_role(store.as_ref(), &member.org.id, &user_id, body.role)
        .await
        .map_err(|e| audited_failure(&state, &member, "member.role_change", &user_id, e))?;
    audit::record(
        &state,
        &member,
        "member.role_change",
        &user_id,
        serde_json::json!({ "from": current.role.as_str(), "to": body.role.as_str() }),
    );
    Ok(Json(MemberView::from(&changed)))
}

#[utoipa::path(
    delete,
    operation_id = "removeMember",
    path = "/admin/v1/orgs/{org_id}/members/{user_id}",
    tag = "members",
    summary = "Remove a member and revoke its admin tokens (never the last owner)",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("user_id" = String, Path, description = "The member's user id")),
    security(("admin_token" = [])),
    responses((status = 204, description = "Removed"), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody), (status = 409, description = "Conflicts with what exists", body = crate::admin::openapi::ErrorBody))
)]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ErrorResponse> {
    member.require(Action::ManageMembers)?;
    let store = store_of(&state)?;
    let current = org_member(store.as_ref(), &member, &user_id).await?;
    require_owner_for(&member, &[current.role], &state, "member.remove", &user_id)?;
    membership::remove_member(store.as_ref(), &member.org.id, &user_id, Timestamp::now())
        .await
        .map_err(|e| audited_failure(&state, &member, "member.remove", &user_id, e))?;
    audit::record(
        &state,
        &member,
        "member.remove",
        &user_id,
        serde_json::json!({ "email": current.email, "role": current.role.as_str() }),
    );
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    operation_id = "renewAdminToken",
    path = "/admin/v1/orgs/{org_id}/members/{user_id}/token",
    tag = "members",
    summary = "Issue a new admin token for a member, revoking its others",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("user_id" = String, Path, description = "The member's user id")),
    security(("admin_token" = [])),
    responses((status = 201, body = IssuedToken), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn new_token(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, user_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<IssuedToken>), ErrorResponse> {
    if user_id != member.user_id {
        member.require(Action::ManageMembers)?;
    }
    let store = store_of(&state)?;
    let current = org_member(store.as_ref(), &member, &user_id).await?;
    if user_id != member.user_id {
        require_owner_for(
            &member,
            &[current.role],
            &state,
            "member.token_rotate",
            &user_id,
        )?;
    }
    let issued =
        membership::rotate_token(store.as_ref(), &member.org.id, &user_id, Timestamp::now())
            .await?;
    audit::record(
        &state,
        &member,
        "member.token_rotate",
        &user_id,
        serde_json::json!({ "token_id": issued.token.id, "display_prefix": issued.token.display_prefix }),
    );
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            admin_token: issued.secret.expose_secret().to_owned(),
            token_id: issued.token.id,
        }),
    ))
}
