//! The audit log's events (admin actions and security events) and their exports. An event
//! expires after its organisation's audit retention, fixed when it is recorded.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::id::new_id;
use crate::model::org::Organization;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Failure,
    /// Refused by a permission or security check.
    Denied,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Denied => "denied",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub org_id: String,
    pub at: Timestamp,
    /// Who acted: a user id, a key id, or `system`.
    pub actor: String,
    /// What was done, dotted: `key.create`, `member.role_change`, `auth.ip_denied`.
    pub action: String,
    /// What it was done to (a key id, a user id), empty when nothing in particular.
    pub target: String,
    pub outcome: AuditOutcome,
    pub ip: Option<IpAddr>,
    /// Anything else worth keeping, never a secret.
    pub details: serde_json::Value,
    pub expires_at: Timestamp,
}

impl AuditEvent {
    /// A new event for `org`, kept for the organisation's audit retention.
    pub fn new(
        org: &Organization,
        actor: &str,
        action: &str,
        target: &str,
        outcome: AuditOutcome,
        at: Timestamp,
    ) -> Self {
        AuditEvent {
            id: new_id("evt"),
            org_id: org.id.clone(),
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome,
            ip: None,
            details: serde_json::Value::Null,
            expires_at: at.plus_days(i64::from(org.audit_retention.days())),
        }
    }
}

/// Events as one JSON array, times in RFC 3339 beside the milliseconds.
pub fn export_json(events: &[AuditEvent]) -> String {
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id,
                "org_id": e.org_id,
                "at": e.at.to_rfc3339(),
                "at_ms": e.at.millis(),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "outcome": e.outcome.as_str(),
                "ip": e.ip.map(|ip| ip.to_string()),
                "details": e.details,
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

pub const CSV_HEADER: &str = "id,org_id,at,actor,action,target,outcome,ip,details";

/// Events as CSV (RFC 4180: quoted where needed, CRLF line ends), details as JSON text.
pub fn export_csv(events: &[AuditEvent]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for e in events {
        let details = if e.details.is_null() {
            String::new()
        } else {
            e.details.to_string()
        };
        let fields = [
            e.id.clone(),
            e.org_id.clone(),
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.outcome.as_str().to_owned(),
            e.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            details,
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::org::Plan;

    #[test]
    fn events_expire_after_the_organisations_retention() {
        let org = Organization::new("acme", Plan::Free, Timestamp(0));
        let event = AuditEvent::new(
            &org,
            "u1",
            "key.create",
            "k1",
            AuditOutcome::Success,
            Timestamp(0),
        );
        assert_eq!(event.expires_at, Timestamp(0).plus_days(90));
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let org = Organization::new("acme", Plan::Free, Timestamp(0));
        let mut event = AuditEvent::new(
            &org,
            "a,b",
            "x",
            "say \"hi\"",
            AuditOutcome::Denied,
            Timestamp(0),
        );
        event.details = serde_json::json!({"k": "v"});
        let csv = export_csv(&[event]);
        let line = csv.lines().nth(1).unwrap();
        assert!(line.contains("\"a,b\""));
        assert!(line.contains("\"say \"\"hi\"\"\""));
        assert!(line.contains("\"{\"\"k\"\":\"\"v\"\"}\""));
        assert!(line.contains(",denied,"));
    }
}
