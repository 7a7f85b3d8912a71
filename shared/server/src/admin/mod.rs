//! The admin REST API under `/admin/v1`: organisations, members, API keys, request logs,
//! receipts and the audit log, for members authenticated by their personal admin token.
//!
//! Every route but `/openapi.json` (the [`openapi`] description) authenticates a member ([`auth::OrgMember`]); routes under
//! `/orgs/{org_id}/…` also check that the path names the member's own organisation (any other
//! id is a 404, so ids cannot be probed), and each handler checks its [`Action`] against the
//! member's role server-side with [`auth::OrgMember::require`]. Every mutation, allowed or
//! denied, is written to the audit log in the background by [`audit::record`].
//!
//! # Adding a feature
//!
//! A feature is a module here with `pub fn routes() -> axum::Router<Arc<AppState>>`, its paths
//! relative to `/admin/v1` (`/orgs/{org_id}/spend-limits`, …), its handlers taking an
//! [`auth::OrgMember`] and calling `member.require(Action::…)?` first. Mount it with one line in
//! [`router`]: `.merge(your_feature::routes())`, and list its handlers (each with a
//! `#[utoipa::path]`) in [`openapi::AdminApi`].
//!
//! [`Action`]: gateway_store::model::member::Action

pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod errors;
pub mod fields;
pub mod keys;
pub mod logs;
pub mod me;
pub mod members;
pub mod membership;
pub mod openapi;
pub mod orgs;
pub mod routing;
pub mod spend;

use std::sync::Arc;

use axum::Router;

use gateway_core::ApiError;
use gateway_store::Store;

use crate::state::AppState;

/// The admin API, to be mounted at `/admin/v1` (see [`crate::app::router`]).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(me::routes())
        .merge(orgs::routes())
        .merge(spend::routes())
        .merge(routing::routes())
        .merge(members::routes())
        .merge(keys::routes())
        .merge(logs::routes())
        .merge(audit_log::routes())
        .merge(openapi::routes())
        .with_state(state)
}

/// The store behind the admin API. Every server that mounts the admin API has one (`serve`
/// always opens one), so its absence is a bug, answered as an internal error.
pub(crate) fn store_of(state: &AppState) -> Result<Arc<dyn Store>, ApiError> {
    state
        .access
        .as_ref()
        .map(|a| a.store.clone())
        .ok_or_else(ApiError::internal)
}
