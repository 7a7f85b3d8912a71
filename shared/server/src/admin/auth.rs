//! Who is calling the admin API: a member, authenticated by a personal admin token
//! (`llm_gw_admin_…`, only its SHA-256 stored), with the role read from the store on every
//! request, so a role change or a removal takes effect at once.
//!
//! Failed authentications (no such token, malformed, revoked, member removed) count toward the
//! same per-IP lockout as API keys and are audited by prefix. A member reaches only its own
//! organisation: another organisation's id in the path is a 404 with the same body whether that
//! organisation exists or not.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use gateway_core::keys::{self, GatewayKeyHash};
use gateway_core::{ApiError, ErrorKind};
use gateway_store::StoreError;
use gateway_store::Timestamp;
use gateway_store::model::audit::{AuditEvent, AuditOutcome};
use gateway_store::model::member::{Action, Role, can};
use gateway_store::model::org::Organization;

use crate::access::Access;
use crate::admin::errors::from_store;
use crate::auth::{bearer, client_ip};
use crate::errors::ErrorResponse;
use crate::state::AppState;

/// An authenticated member, for routes under `/orgs/{org_id}/…`: the extractor has checked the
/// token and that `{org_id}` is the member's organisation.
#[derive(Clone)]
pub struct OrgMember {
    pub org: Arc<Organization>,
    pub user_id: String,
    pub role: Role,
    pub email: String,
    /// The admin token this request presented.
    pub token_id: String,
    pub ip: IpAddr,
    /// `METHOD /path`, for the audit of a refused action.
    request: String,
    access: Arc<Access>,
}

impl std::fmt::Debug for OrgMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgMember")
            .field("org_id", &self.org.id)
            .field("user_id", &self.user_id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl OrgMember {
    /// Whether the member's role allows `action`; when not, a 403 naming the action, and the
    /// refusal is audited.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if can(self.role, action) {
            return Ok(());
        }
        let name = action_name(action);
        let mut event = AuditEvent::new(
            &self.org,
            &self.user_id,
            "permission.denied",
            name,
            AuditOutcome::Denied,
            Timestamp::now(),
        );
        event.ip = Some(self.ip);
        event.details = serde_json::json!({ "request": self.request, "role": self.role.as_str() });
        self.access.audit_in_background(event);
        Err(ApiError::new(
            ErrorKind::Permission,
            format!(
                "Your role `{}` does not allow `{name}` in this organisation.",
                self.role.as_str()
            ),
        )
        .with_code("insufficient_role"))
    }

    /// The store, through the gateway's access layer.
    pub fn access(&self) -> &Arc<Access> {
        &self.access
    }
}

/// The snake_case name of an action, as in errors and the audit log.
pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::ManageOrganization => "manage_organization",
        Action::ManageMembers => "manage_members",
        Action::ManageKeys => "manage_keys",
        Action::ViewKeys => "view_keys",
        Action::ManageSettings => "manage_settings",
        Action::ViewUsage => "view_usage",
        Action::ViewAudit => "view_audit",
    }
}

/// An authenticated member on a route that names no organisation (`/me`).
#[derive(Debug, Clone)]
pub struct AnyOrgMember(pub OrgMember);

impl FromRequestParts<Arc<AppState>> for AnyOrgMember {
    type Rejection = ErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state)
            .await
            .map(AnyOrgMember)
            .map_err(Into::into)
    }
}

impl FromRequestParts<Arc<AppState>> for OrgMember {
    type Rejection = ErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let member = authenticate(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::internal())?;
        let org_id = params
            .iter()
            .find(|(name, _)| *name == "org_id")
            .map(|(_, value)| value.to_owned());
        match org_id {
            Some(id) if id == member.org.id => Ok(member),
            Some(id) => Err(org_not_found(&id).into()),
            None => {
                tracing::error!(path = %parts.uri.path(), "OrgMember used on a route without {{org_id}}");
                Err(ApiError::internal().into())
            }
        }
    }
}

/// The one answer for an organisation the member does not belong to, existing or not.
pub fn org_not_found(org_id: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("No organisation `{org_id}` is visible to this admin token."),
    )
    .with_code("organization_not_found")
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<OrgMember, ApiError> {
    let Some(access) = state.access.clone() else {
        return Err(ApiError::new(
            ErrorKind::Unavailable,
            "The admin API needs a store; this gateway runs without one.",
        )
        .with_code("admin_api_unavailable"));
    };
    let ip = client_ip(&parts.extensions);
    access.check_lockout(ip)?;
    let Some(presented) = bearer(&parts.headers) else {
        return Err(ApiError::new(
            ErrorKind::Authentication,
            "No admin token provided. Send `Authorization: Bearer <your admin token>`.",
        )
        .with_code("missing_admin_token"));
    };
    let refuse = |reason: &str, code: &'static str, message: &str| {
        access
            .record_failed_authentication(presented, ip, reason)
            .unwrap_or_else(|| ApiError::new(ErrorKind::Authentication, message).with_code(code))
    };
    const INCORRECT: &str = "Incorrect admin token provided.";
    if !presented.starts_with(keys::ADMIN_PREFIX) {
        return Err(refuse("malformed", "invalid_admin_token", INCORRECT));
    }
    let token = match access
        .store
        .find_admin_token_by_hash(&GatewayKeyHash::of(presented))
        .await
    {
        Ok(token) => token,
        Err(StoreError::NotFound(_)) => {
            return Err(refuse("unknown", "invalid_admin_token", INCORRECT));
        }
        Err(error) => return Err(from_store(error)),
    };
    if token.is_revoked() {
        return Err(refuse(
            "revoked",
            "admin_token_revoked",
            "This admin token has been revoked.",
        ));
    }
    let member = match access.store.get_member(&token.org_id, &token.user_id).await {
        Ok(member) => member,
        Err(StoreError::NotFound(_)) => {
            return Err(refuse(
                "member_removed",
                "admin_token_revoked",
                "This admin token's member is no longer in the organisation.",
            ));
        }
        Err(error) => return Err(from_store(error)),
    };
    let org = access
        .store
        .get_org(&member.org_id)
        .await
        .map_err(from_store)?;
    Ok(OrgMember {
        org: Arc::new(org),
        user_id: member.user_id,
        role: member.role,
        email: member.email,
        token_id: token.id,
        ip,
        request: format!("{} {}", parts.method, parts.uri.path()),
        access,
    })
}
