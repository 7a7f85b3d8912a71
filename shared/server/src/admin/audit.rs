//! Recording admin actions in the audit log. Every admin mutation calls [`record`] (or
//! [`record_outcome`] when it failed) once it knows its outcome; the event is written in the
//! background, so the response never waits on the audit write. Refused actions are recorded by
//! [`crate::admin::auth::OrgMember::require`] itself.

use gateway_store::Timestamp;
use gateway_store::model::audit::{AuditEvent, AuditOutcome};

use crate::admin::auth::OrgMember;
use crate::state::AppState;

/// Records that `member` did `action` (dotted: `key.create`, `member.role_change`) to `target`
/// (an id, or empty), successfully. `details` never holds a secret.
pub fn record(
    state: &AppState,
    member: &OrgMember,
    action: &str,
    target: &str,
    details: serde_json::Value,
) {
    record_outcome(
        state,
        member,
        action,
        target,
        details,
        AuditOutcome::Success,
    );
}

/// As [`record`], with the outcome given (a failure, a refusal).
pub fn record_outcome(
    state: &AppState,
    member: &OrgMember,
    action: &str,
    target: &str,
    details: serde_json::Value,
    outcome: AuditOutcome,
) {
    let Some(access) = state.access.as_ref() else {
        return;
    };
    let mut event = AuditEvent::new(
        &member.org,
        &member.user_id,
        action,
        target,
        outcome,
        Timestamp::now(),
    );
    event.ip = Some(member.ip);
    event.details = details;
    access.audit_in_background(event);
}
