//! `GET /admin/v1/openapi.json`: the admin API described as OpenAPI 3.1, derived by utoipa from
//! the handlers' `#[utoipa::path]` attributes and the request and response types, so the
//! document changes with the code. No token is needed: the description holds no data.
//!
//! A feature adding routes lists its handlers in [`AdminApi`]'s `paths(...)`; the black-box
//! test `tests/api/admin/openapi.rs` fails when a route in this folder is missing here.

use axum::Json;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::admin::{audit_log, keys, logs, me, members, orgs, routing, spend};
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/openapi.json", get(document))
}

/// The security scheme every operation names: a member's admin token as a bearer token.
pub const SECURITY_SCHEME: &str = "admin_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LLM Gateway admin API",
        description = "Organisations, members, API keys, request logs, receipts, the audit log, spend limits and routing preferences. \
            Authenticate with a member's admin token (`Authorization: Bearer llm_gw_admin_…`); \
            `llm-gateway member create` prints the first one.",
    ),
    paths(
        document,
        me::me,
        orgs::get_org,
        orgs::update_org,
        members::list,
        members::add,
        members::get_member,
        members::change_role,
        members::remove,
        members::new_token,
        keys::list,
        keys::create,
        keys::get_key,
        keys::update,
        keys::revoke,
        keys::rotate,
        logs::search,
        logs::receipt,
        audit_log::search,
        audit_log::export,
        spend::get_settings,
        spend::put_settings,
        spend::get_report,
        routing::get_preferences,
        routing::put_preferences,
        routing::health,
        routing::reset_breaker,
    ),
    components(schemas(ErrorBody, ErrorObject, LimitsSchema)),
    modifiers(&BearerToken),
    tags(
        (name = "meta", description = "The API's own description"),
        (name = "members", description = "Who may administer the organisation, and their admin tokens"),
        (name = "organisation", description = "Plan, limits, time zone, audit retention"),
        (name = "keys", description = "API keys for /v1"),
        (name = "logs", description = "The request log and receipts"),
        (name = "audit", description = "The audit log and its exports"),
        (name = "spend", description = "Spend limits, alerts and spend reports"),
        (name = "routing", description = "Routing preferences, circuit breakers and provider health"),
    )
)]
pub struct AdminApi;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("llm_gw_admin_…")
                    .description(Some("A member's personal admin token."))
                    .build(),
            ),
        );
    }
}

/// Every error: the OpenAI shape.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the error shape for the document only")]
pub struct ErrorBody {
    error: ErrorObject,
}

#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the error shape for the document only")]
pub struct ErrorObject {
    message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`, …
    r#type: String,
    /// The request field at fault, when there is one.
    param: Option<String>,
    code: Option<String>,
}

/// An organisation's limits.
#[derive(ToSchema)]
#[schema(as = PlanLimits)]
#[expect(
    dead_code,
    reason = "describes the limits' shape for the document only"
)]
pub struct LimitsSchema {
    requests_per_minute: u64,
    tokens_per_minute: u64,
    requests_per_day: u64,
}

/// The document as JSON.
pub fn document_json() -> utoipa::openapi::OpenApi {
    AdminApi::openapi()
}

#[utoipa::path(
    get,
    operation_id = "getOpenApiDocument",
    path = "/admin/v1/openapi.json",
    tag = "meta",
    summary = "This document (no token needed)",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(document_json())
}
