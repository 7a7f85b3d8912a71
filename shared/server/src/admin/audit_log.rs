//! The audit log over the admin API: `GET /orgs/{org_id}/audit` pages through events newest
//! first; `GET /orgs/{org_id}/audit/export?format=json|csv` downloads every event that matches
//! as one file (RFC 4180 CSV or a JSON array). Exports are themselves audited.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gateway_core::ApiError;
use gateway_store::Timestamp;
use gateway_store::model::audit::{AuditEvent, export_csv, export_json};
use gateway_store::model::member::Action;
use gateway_store::model::query::{AuditQuery, Cursor};
use gateway_store::ports::collect_audit;
use serde::{Deserialize, Serialize};

use crate::admin::audit;
use crate::admin::auth::OrgMember;
use crate::admin::errors::{AdminQuery, from_store};
use crate::admin::fields;
use crate::admin::store_of;
use crate::errors::ErrorResponse;
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/orgs/{org_id}/audit", get(search))
        .route("/orgs/{org_id}/audit/export", get(export))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditSearch {
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    /// A dotted action such as `key.create`.
    pub action: Option<String>,
    /// 1 to 1000, 50 by default.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditExport {
    /// `json` (the default) or `csv`.
    pub format: Option<String>,
    pub from: Option<String>,
    pub until: Option<String>,
    pub action: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// `success`, `failure` or `denied`.
    #[schema(value_type = String)]
    pub outcome: &'static str,
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<&AuditEvent> for AuditEntry {
    fn from(e: &AuditEvent) -> Self {
        AuditEntry {
            id: e.id.clone(),
            at: e.at.to_rfc3339(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            outcome: e.outcome.as_str(),
            ip: e.ip.map(|ip| ip.to_string()),
            details: e.details.clone(),
        }
    }
}

/// One page of the audit log; `next_cursor` is absent on the last.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub data: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    operation_id = "searchAuditLog",
    path = "/admin/v1/orgs/{org_id}/audit",
    tag = "audit",
    summary = "Search the audit log, newest first",
    params(("org_id" = String, Path, description = "The member's organisation id"), AuditSearch),
    security(("admin_token" = [])),
    responses((status = 200, body = AuditPage), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn search(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminQuery(search): AdminQuery<AuditSearch>,
) -> Result<Json<AuditPage>, ErrorResponse> {
    member.require(Action::ViewAudit)?;
    let query = AuditQuery {
        org_id: member.org.id.clone(),
        from: fields::optional_time("from", search.from.as_deref())?,
        until: fields::optional_time("until", search.until.as_deref())?,
        action: search.action,
        limit: fields::page_size(search.limit)?,
        cursor: search.cursor.as_deref().map(Cursor::from_token),
    };
    if let Some(cursor) = &query.cursor {
        cursor.position().map_err(|_| {
            ApiError::invalid_param("cursor", "`cursor` is not one this gateway issued.")
        })?;
    }
    let store = store_of(&state)?;
    let page = store
        .query_audit(&query, Timestamp::now())
        .await
        .map_err(from_store)?;
    Ok(Json(AuditPage {
        data: page.items.iter().map(AuditEntry::from).collect(),
        next_cursor: page.next.as_ref().map(|c| c.as_str().to_owned()),
    }))
}

#[utoipa::path(
    get,
    operation_id = "exportAuditLog",
    path = "/admin/v1/orgs/{org_id}/audit/export",
    tag = "audit",
    summary = "Export the audit log as JSON or CSV",
    params(("org_id" = String, Path, description = "The member's organisation id"), AuditExport),
    security(("admin_token" = [])),
    responses((status = 200, description = "A file (Content-Disposition: attachment)", content((String = "application/json"), (String = "text/csv"))), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn export(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminQuery(export): AdminQuery<AuditExport>,
) -> Result<Response, ErrorResponse> {
    member.require(Action::ViewAudit)?;
    let format = export.format.unwrap_or_else(|| "json".to_owned());
    let (content_type, extension) = match format.as_str() {
        "json" => ("application/json", "json"),
        "csv" => ("text/csv; charset=utf-8", "csv"),
        _ => {
            return Err(
                ApiError::invalid_param("format", "`format` must be `json` or `csv`.").into(),
            );
        }
    };
    let mut query = AuditQuery::for_org(&member.org.id);
    query.from = fields::optional_time("from", export.from.as_deref())?;
    query.until = fields::optional_time("until", export.until.as_deref())?;
    query.action = export.action;
    query.limit = gateway_store::model::query::MAX_PAGE;
    let store = store_of(&state)?;
    let now = Timestamp::now();
    let events = collect_audit(store.as_ref(), &query, now)
        .await
        .map_err(from_store)?;
    let body = if extension == "csv" {
        export_csv(&events)
    } else {
        export_json(&events)
    };
    audit::record(
        &state,
        &member,
        "audit.export",
        "",
        serde_json::json!({ "format": extension, "events": events.len() }),
    );
    let filename = format!(
        "attachment; filename=\"audit-{}-{}.{extension}\"",
        member.org.id,
        now.to_rfc3339().get(..10).unwrap_or("export")
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
