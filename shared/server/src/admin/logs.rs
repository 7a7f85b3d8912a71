//! The request log over the admin API: `GET /orgs/{org_id}/logs` searches receipts by time
//! range, model, provider, status, key and request id, newest first, one page at a time behind
//! an opaque cursor; `GET /orgs/{org_id}/receipts/{request_id}` returns one request's full
//! receipt.
//!
//! The full receipt comes from the in-memory ring of recent receipts while it is there, else
//! from what the request log stored with the request (`details`). Either way the request log
//! decides ownership: a request of another organisation is a 404 like an unknown one.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use gateway_core::ApiError;
use gateway_store::Timestamp;
use gateway_store::model::member::Action;
use gateway_store::model::query::{Cursor, ReceiptQuery};
use gateway_store::model::receipt::ReceiptRecord;
use serde::{Deserialize, Serialize};

use crate::admin::auth::OrgMember;
use crate::admin::errors::{AdminQuery, from_store, not_found};
use crate::admin::fields;
use crate::admin::store_of;
use crate::errors::ErrorResponse;
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/orgs/{org_id}/logs", get(search))
        .route("/orgs/{org_id}/receipts/{request_id}", get(receipt))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogSearch {
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    /// `provider/model` as routed.
    pub model: Option<String>,
    pub provider: Option<String>,
    /// The HTTP status the client received.
    pub status: Option<u16>,
    pub key_id: Option<String>,
    pub request_id: Option<String>,
    /// 1 to 1000, 50 by default.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One request in the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogEntry {
    pub request_id: String,
    pub at: String,
    pub key_id: Option<String>,
    pub routing_decision: String,
    pub provider: String,
    pub model: String,
    pub status: u16,
    pub latency_ms: u64,
    #[schema(value_type = Object)]
    pub tokens: gateway_store::model::receipt::TokenCounts,
    pub cost_usd: f64,
    #[schema(value_type = Vec<Object>)]
    pub fallback_attempts: Vec<gateway_store::model::receipt::FallbackAttempt>,
}

impl From<&ReceiptRecord> for LogEntry {
    fn from(r: &ReceiptRecord) -> Self {
        LogEntry {
            request_id: r.request_id.clone(),
            at: r.at.to_rfc3339(),
            key_id: r.key_id.clone(),
            routing_decision: r.routing_decision.clone(),
            provider: r.provider.clone(),
            model: r.model.clone(),
            status: r.status,
            latency_ms: r.latency_ms,
            tokens: r.tokens,
            cost_usd: r.cost_usd,
            fallback_attempts: r.fallback_attempts.clone(),
        }
    }
}

/// One page of the request log; `next_cursor` is absent on the last.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogPage {
    pub data: Vec<LogEntry>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    operation_id = "searchRequestLogs",
    path = "/admin/v1/orgs/{org_id}/logs",
    tag = "logs",
    summary = "Search the request log, newest first",
    params(("org_id" = String, Path, description = "The member's organisation id"), LogSearch),
    security(("admin_token" = [])),
    responses((status = 200, body = LogPage), (status = 400, description = "A field is invalid (named in `param`)", body = crate::admin::openapi::ErrorBody), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn search(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    AdminQuery(search): AdminQuery<LogSearch>,
) -> Result<Json<LogPage>, ErrorResponse> {
    member.require(Action::ViewUsage)?;
    let query = ReceiptQuery {
        org_id: member.org.id.clone(),
        from: fields::optional_time("from", search.from.as_deref())?,
        until: fields::optional_time("until", search.until.as_deref())?,
        model: search.model,
        provider: search.provider,
        status: search.status,
        key_id: search.key_id,
        request_id: search.request_id,
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
        .query_receipts(&query, Timestamp::now())
        .await
        .map_err(from_store)?;
    Ok(Json(LogPage {
        data: page.items.iter().map(LogEntry::from).collect(),
        next_cursor: page.next.as_ref().map(|c| c.as_str().to_owned()),
    }))
}

#[utoipa::path(
    get,
    operation_id = "getReceipt",
    path = "/admin/v1/orgs/{org_id}/receipts/{request_id}",
    tag = "logs",
    summary = "One request's full receipt",
    params(("org_id" = String, Path, description = "The member's organisation id"), ("request_id" = String, Path, description = "The x-request-id of the request")),
    security(("admin_token" = [])),
    responses((status = 200, description = "The receipt", body = Object), (status = 401, description = "No, malformed, unknown or revoked admin token", body = crate::admin::openapi::ErrorBody), (status = 403, description = "The role does not allow this", body = crate::admin::openapi::ErrorBody), (status = 404, description = "Not found, or another organisation's", body = crate::admin::openapi::ErrorBody))
)]
pub async fn receipt(
    State(state): State<Arc<AppState>>,
    member: OrgMember,
    Path((_, request_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ErrorResponse> {
    member.require(Action::ViewUsage)?;
    let store = store_of(&state)?;
    let mut query = ReceiptQuery::for_org(&member.org.id);
    query.request_id = Some(request_id.clone());
    query.limit = 1;
    let mut record = store
        .query_receipts(&query, Timestamp::now())
        .await
        .map_err(from_store)?
        .items
        .pop();
    if record.is_none() {
        // The request may still be queued for the background writer.
        if let Some(access) = &state.access {
            access.flush().await;
        }
        record = store
            .query_receipts(&query, Timestamp::now())
            .await
            .map_err(from_store)?
            .items
            .pop();
    }
    let Some(record) = record else {
        return Err(not_found("request", &request_id).into());
    };
    if let Some(full) = state.receipts.get(&request_id) {
        return Ok(Json(
            serde_json::to_value(&*full).map_err(|_| ApiError::internal())?,
        ));
    }
    if !record.details.is_none() {
        return Ok(Json(record.details.to_value()));
    }
    // A request that ended before it was routed has only what the log keeps.
    Ok(Json(
        serde_json::to_value(LogEntry::from(&record)).map_err(|_| ApiError::internal())?,
    ))
}
