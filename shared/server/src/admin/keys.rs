//! API keys over the admin API: create (the secret in the answer, once), list, get, update
//! name, expiry, limits and IP allowlist, revoke, and rotate with a grace period for the old
//! key. Developers and above manage keys; every member may list them (never a secret).
//!
//! The gateway trusts a key it has read for `[auth] key_cache_secs`, so a revocation or a
//! change of limits reaches `/v1` within that bound; a new key works at once.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use gateway_core::ApiError;
use gateway_core::keys::KeyEnvironment;
use gateway_store::model::api_key::{ApiKey, KeySpec, KeyStatus};
use gateway_store::model::member::Action;
use gateway_store::{Store, Timestamp};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::admin::audit;
use crate::admin::auth::OrgMember;
use crate::admin::errors::{AdminJson, from_store, not_found};
use crate::admin::fields;
use crate::admin::store_of;
use crate::errors::ErrorResponse;
use crate::state::AppState;

/// The longest grace period a rotation may give the old key: 30 days.
const MAX_GRACE_SECS: u64 = 30 * 86_400;
const DEFAULT_GRACE_SECS: u64 = 86_400;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/orgs/{org_id}/keys", get(list).post(create))
        .route("/orgs/{org_id}/keys/{key_id}", get(get_key).patch(update))
        .route("/orgs/{org_id}/keys/{key_id}/revoke", post(revoke))
        .route("/orgs/{org_id}/keys/{key_id}/rotate", post(rotate))
}

/// A key as the admin API shows it: never the secret, nor its hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// `prod` or `dev`.
    #[schema(value_type = String)]
    pub environment: &'static str,
    /// The first characters of the secret, to tell keys apart.
    pub display_prefix: String,
    /// `active`, `rotated` (still in its grace period), `revoked`, `expired` or `replaced`.
    #[schema(value_type = String)]
    pub status: &'static str,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    pub replaced_by: Option<String>,
    pub valid_until: Option<String>,
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
    pub ip_allowlist: Vec<String>,
}

impl KeyView {
    pub fn of(key: &ApiKey, now: Timestamp) -> Self {
        let time = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339);
        KeyView {
            id: key.id.clone(),
            name: key.name.clone(),
            environment: environment_name(key.environment),
            display_prefix: key.display_prefix.clone(),
            status: match key.status(now) {
                KeyStatus::Active => "active",
                KeyStatus::ActiveUntilReplaced => "rotated",
                KeyStatus::Revoked => "revoked",
                KeyStatus::Expired => "expired",
                KeyStatus::Replaced => "replaced",
            },
            created_at: key.created_at.to_rfc3339(),
            expires_at: time(key.expires_at),
            revoked_at: time(key.revoked_at),
            last_used_at: time(key.last_used_at),
            replaced_by: key.replaced_by.clone(),
            valid_until: time(key.valid_until),
            rpm_limit: key.rpm_limit,
            tpm_limit: key.tpm_limit,
            ip_allowlist: key.ip_allowlist.iter().map(ToString::to_string).collect(),
        }
    }
}

fn environment_name(environment: KeyEnvironment) -> &'static str {
    match environment {
        KeyEnvironment::Production => "prod",
        KeyEnvironment::Development => "dev",
    }
}

/// A key just made or rotated: the secret, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedKeyView {
    pub key: KeyView,
    pub secret: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    /// `prod` (`llm_gw_prod_…`) or `dev` (`llm_gw_dev_…`, the default).
    #[serde(default)]
    pub environment: Option<String>,
    /// RFC 3339; absent for a key that does not expire.
    pub expires_at: Option<String>,
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
    /// CIDR networks (IPv4 or IPv6) the key may be used from; empty for any.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
}

/// What `PATCH` changes; absent fields stay, `null` clears expiry and limits.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdate {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "fields::nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub expires_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "fields::nullable")]
    #[schema(value_type = Option<u64>, nullable)]
    pub rpm_limit: Option<Option<u64>>,
    #[serde(default, deserialize_with = "fields::nullable")]
    #[schema(value_type = Option<u64>, nullable)]
    pub tpm_limit: Option<Option<u64>>,
    pub ip_allowlist: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// How long the old key keeps working, in seconds (default one day, at most 30 days).
    pub grace_seconds: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub data: Vec<KeyView>,
}

/// The new key (its secret shown this once) and the old one, now in its grace period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedKey {
    pub key: KeyView,
    pub secret: String,
    pub old_key: KeyView,
}

fn key_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid_param(
            "name",
            "`name` must be 1 to 200 characters.",
        ));
    }
    Ok(name.to_owned())
}

/// The key `key_id` of the member's organisation; another organisation's is a 404.
async fn org_key(store: &dyn Store, member: &OrgMember, key_id: &str) -> Result<ApiKey, ApiError> {
    match store.get_key(&member.org.id, key_id).await {
        Ok(key) if key.org_id == member.org.id => Ok(key),
        Ok(_) | Err(gateway_store::StoreError::NotFound(_)) => Err(not_found("key", key_id)),
        Err(error) => Err(from_store(error)),
    }
}

#[utoipa::path(
    get,
    operation_id = "listKeys",
    path = "/admin/v1/orgs/{org_id}/keys",
    tag = "keys",
    summary = "The API keys (never a secret)",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    security(("admin_token" = [])),
    responses((status = 200, body = KeyList), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
) -> Result<Json<KeyList>, ErrorResponse> {
    member.require(Action::ViewKeys)?;
    let store = store_of(&state)?;
    let now = Timestamp::now();
    let keys = store.list_keys(&member.org.id).await.map_err(from_store)?;
    let data = keys.iter().map(|k| KeyView::of(k, now)).collect();
    Ok(Json(KeyList { data }))
}

#[utoipa::path(
    get,
    operation_id = "getKey",
    path = "/admin/v1/orgs/{org_id}/keys/{key_id}",
    tag = "keys",
    summary = "An API key",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("key_id" = String, Path, description = "The key id")),
    security(("admin_token" = [])),
    responses((status = 200, body = KeyView), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn get_key(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, key_id)): Path<(String, String)>,
) -> Result<Json<KeyView>, ErrorResponse> {
    member.require(Action::ViewKeys)?;
    let store = store_of(&state)?;
    let key = org_key(store.as_ref(), &member, &key_id).await?;
    Ok(Json(KeyView::of(&key, Timestamp::now())))
}

#[utoipa::path(
    post,
    operation_id = "createKey",
    path = "/admin/v1/orgs/{org_id}/keys",
    tag = "keys",
    summary = "Create an API key; the secret is in the answer, once",
    params(("org_id" = String, Path, description = "The member's organisation id")),
    request_body = NewKey,
    security(("admin_token" = [])),
    responses((status = 201, body = IssuedKeyView), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminJson(body): AdminJson<NewKey>,
) -> Result<(StatusCode, Json<IssuedKeyView>), ErrorResponse> {
    member.require(Action::ManageKeys)?;
    let store = store_of(&state)?;
    let now = Timestamp::now();
    let environment = match body.environment.as_deref().unwrap_or("dev") {
        "prod" | "production" => KeyEnvironment::Production,
        "dev" | "development" => KeyEnvironment::Development,
        _ => {
            return Err(ApiError::invalid_param(
                "environment",
                "`environment` must be `prod` or `dev`.",
            )
            .into());
        }
    };
    let spec = KeySpec {
        org_id: member.org.id.clone(),
        name: key_name(&body.name)?,
        environment,
        expires_at: fields::optional_time("expires_at", body.expires_at.as_deref())?,
        rpm_limit: fields::positive("rpm_limit", body.rpm_limit)?,
        tpm_limit: fields::positive("tpm_limit", body.tpm_limit)?,
        ip_allowlist: fields::allowlist(&body.ip_allowlist)?,
    };
    if spec.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid_param("expires_at", "`expires_at` is in the past.").into());
    }
    let issued = ApiKey::issue(spec, now);
    store.insert_key(&issued.key).await.map_err(from_store)?;
    let view = KeyView::of(&issued.key, now);
    audit::record(
        &state,
        &member,
        "key.create",
        &issued.key.id,
        serde_json::json!({ "name": view.name, "environment": view.environment,
            "display_prefix": view.display_prefix, "rpm_limit": view.rpm_limit,
            "tpm_limit": view.tpm_limit, "ip_allowlist": view.ip_allowlist,
            "expires_at": view.expires_at }),
    );
    Ok((
        StatusCode::CREATED,
        Json(IssuedKeyView {
            key: view,
            secret: issued.secret.expose_secret().to_owned(),
        }),
    ))
}

#[utoipa::path(
    patch,
    operation_id = "updateKey",
    path = "/admin/v1/orgs/{org_id}/keys/{key_id}",
    tag = "keys",
    summary = "Change a key's name, expiry, limits or IP allowlist",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("key_id" = String, Path, description = "The key id")),
    request_body = KeyUpdate,
    security(("admin_token" = [])),
    responses((status = 200, body = KeyView), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, key_id)): Path<(String, String)>,
    AdminJson(body): AdminJson<KeyUpdate>,
) -> Result<Json<KeyView>, ErrorResponse> {
    member.require(Action::ManageKeys)?;
    let store = store_of(&state)?;
    let key = org_key(store.as_ref(), &member, &key_id).await?;
    let mut settings = key.settings();
    if let Some(name) = &body.name {
        settings.name = key_name(name)?;
    }
    if let Some(expires_at) = &body.expires_at {
        settings.expires_at = fields::optional_time("expires_at", expires_at.as_deref())?;
    }
    if let Some(rpm) = body.rpm_limit {
        settings.rpm_limit = fields::positive("rpm_limit", rpm)?;
    }
    if let Some(tpm) = body.tpm_limit {
        settings.tpm_limit = fields::positive("tpm_limit", tpm)?;
    }
    if let Some(list) = &body.ip_allowlist {
        settings.ip_allowlist = fields::allowlist(list)?;
    }
    store
        .update_key_settings(&member.org.id, &key_id, &settings)
        .await
        .map_err(from_store)?;
    let updated = org_key(store.as_ref(), &member, &key_id).await?;
    let view = KeyView::of(&updated, Timestamp::now());
    audit::record(
        &state,
        &member,
        "key.update",
        &key_id,
        serde_json::json!({ "name": view.name, "expires_at": view.expires_at,
            "rpm_limit": view.rpm_limit, "tpm_limit": view.tpm_limit,
            "ip_allowlist": view.ip_allowlist }),
    );
    Ok(Json(view))
}

#[utoipa::path(
    post,
    operation_id = "revokeKey",
    path = "/admin/v1/orgs/{org_id}/keys/{key_id}/revoke",
    tag = "keys",
    summary = "Revoke a key",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("key_id" = String, Path, description = "The key id")),
    security(("admin_token" = [])),
    responses((status = 200, body = KeyView), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, key_id)): Path<(String, String)>,
) -> Result<Json<KeyView>, ErrorResponse> {
    member.require(Action::ManageKeys)?;
    let store = store_of(&state)?;
    org_key(store.as_ref(), &member, &key_id).await?;
    let now = Timestamp::now();
    store
        .revoke_key(&member.org.id, &key_id, now)
        .await
        .map_err(from_store)?;
    let key = org_key(store.as_ref(), &member, &key_id).await?;
    audit::record(
        &state,
        &member,
        "key.revoke",
        &key_id,
        serde_json::Value::Null,
    );
    Ok(Json(KeyView::of(&key, now)))
}

#[utoipa::path(
    post,
    operation_id = "rotateKey",
    path = "/admin/v1/orgs/{org_id}/keys/{key_id}/rotate",
    tag = "keys",
    summary = "Replace a key; the old one works for the grace period",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("key_id" = String, Path, description = "The key id")),
    request_body = Option<Rotation>,
    security(("admin_token" = [])),
    responses((status = 201, body = RotatedKey), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody), (status = 409, description = "Conflicts with what exists", body = crate::admin::openapi::ErrorBody))
)]
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, key_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<RotatedKey>), ErrorResponse> {
    member.require(Action::ManageKeys)?;
    let rotation: Rotation = if body.iter().all(u8::is_ascii_whitespace) {
        Rotation::default()
    } else {
        crate::admin::errors::parse_json(&body)?
    };
    let grace = rotation.grace_seconds.unwrap_or(DEFAULT_GRACE_SECS);
    if grace > MAX_GRACE_SECS {
        return Err(ApiError::invalid_param(
            "grace_seconds",
            format!("`grace_seconds` must be 0 to {MAX_GRACE_SECS} (30 days)."),
        )
        .into());
    }
    let store = store_of(&state)?;
    let old = org_key(store.as_ref(), &member, &key_id).await?;
    let now = Timestamp::now();
    let issued = old.successor(now);
    let grace_secs = i64::try_from(grace).unwrap_or(i64::MAX);
    store
        .rotate_key(
            &member.org.id,
            &key_id,
            &issued.key,
            now.plus_secs(grace_secs),
        )
        .await
        .map_err(from_store)?;
    let old = org_key(store.as_ref(), &member, &key_id).await?;
    audit::record(
        &state,
        &member,
        "key.rotate",
        &key_id,
        serde_json::json!({ "new_key_id": issued.key.id, "grace_seconds": grace }),
    );
    Ok((
        StatusCode::CREATED,
        Json(RotatedKey {
            key: KeyView::of(&issued.key, now),
            secret: issued.secret.expose_secret().to_owned(),
            old_key: KeyView::of(&old, now),
        }),
    ))
}
