//! Members of an organisation and what each role may do. The permission table is data
//! ([`PERMISSIONS`]), so it can be read, shown in the dashboard and tested as a whole.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Developer,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Developer, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// Something a member may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Rename, change plan, time zone or retention; delete the organisation.
    ManageOrganization,
    /// Add and remove members, change roles.
    ManageMembers,
    /// See who the members are and their roles.
    ViewMembers,
    /// Create, rotate and revoke API keys, set their limits and allowlists.
    ManageKeys,
    /// See the key list (never a secret).
    ViewKeys,
    /// Routing preferences, spend limits, alerts, provider connections.
    ManageSettings,
    /// Request logs, receipts, usage and cost.
    ViewUsage,
    /// The audit log and its exports.
    ViewAudit,
}

/// Who may do what. Owners may do everything; admins everything but the organisation itself;
/// developers work with keys and usage; viewers only look.
pub const PERMISSIONS: &[(Role, &[Action])] = &[
    (
        Role::Owner,
        &[
            Action::ManageOrganization,
            Action::ManageMembers,
            Action::ViewMembers,
            Action::ManageKeys,
            Action::ViewKeys,
            Action::ManageSettings,
            Action::ViewUsage,
            Action::ViewAudit,
        ],
    ),
    (
        Role::Admin,
        &[
            Action::ManageMembers,
            Action::ViewMembers,
            Action::ManageKeys,
            Action::ViewKeys,
            Action::ManageSettings,
            Action::ViewUsage,
            Action::ViewAudit,
        ],
    ),
    (
        Role::Developer,
        &[
            Action::ViewMembers,
            Action::ManageKeys,
            Action::ViewKeys,
            Action::ViewUsage,
        ],
    ),
    (
        Role::Viewer,
        &[Action::ViewMembers, Action::ViewKeys, Action::ViewUsage],
    ),
];

/// Whether `role` may do `action`, per [`PERMISSIONS`].
pub fn can(role: Role, action: Action) -> bool {
    PERMISSIONS
        .iter()
        .any(|(r, actions)| *r == role && actions.contains(&action))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub org_id: String,
    /// Unique within the organisation.
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub added_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_a_row_in_the_table() {
        for role in Role::ALL {
            assert!(PERMISSIONS.iter().any(|(r, _)| *r == role));
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn permissions_narrow_from_owner_to_viewer() {
        assert!(can(Role::Owner, Action::ManageOrganization));
        assert!(!can(Role::Admin, Action::ManageOrganization));
        assert!(can(Role::Admin, Action::ManageMembers));
        assert!(!can(Role::Developer, Action::ManageMembers));
        assert!(can(Role::Developer, Action::ManageKeys));
        assert!(!can(Role::Viewer, Action::ManageKeys));
        assert!(can(Role::Viewer, Action::ViewUsage));
        assert!(!can(Role::Viewer, Action::ViewAudit));
    }
}
