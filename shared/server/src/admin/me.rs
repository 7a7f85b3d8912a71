//! `GET /admin/v1/me`: who the admin token belongs to, in which organisation, and what the
//! member's role allows, so a client (the CLI, the dashboard) can find its organisation id.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::routing::get;
use gateway_store::model::member::{PERMISSIONS, Role};
use serde::Serialize;

use crate::admin::auth::{AnyOrgMember, action_name};
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/me", get(me))
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub org_id: String,
    pub org_name: String,
    pub token_id: String,
    /// Every action the role allows.
    pub permissions: Vec<&'static str>,
}

async fn me(AnyOrgMember(member): AnyOrgMember) -> Json<Me> {
    let permissions = PERMISSIONS
        .iter()
        .filter(|(role, _)| *role == member.role)
        .flat_map(|(_, actions)| actions.iter().map(|a| action_name(*a)))
        .collect();
    Json(Me {
        user_id: member.user_id,
        email: member.email,
        role: member.role,
        org_id: member.org.id.clone(),
        org_name: member.org.name.clone(),
        token_id: member.token_id,
        permissions,
    })
}
