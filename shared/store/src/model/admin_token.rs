//! Members' personal tokens for the admin API. Like API keys, only the SHA-256 of the secret is
//! stored, with a short display prefix; unlike them a token carries no limits or allowlist: it
//! names a member, and what the member may do is read from the member's current role.

use gateway_core::keys::{self, GatewayKeyHash};
use secrecy::SecretString;

use crate::model::id::new_id;
use crate::time::Timestamp;

/// Characters of the random part the display prefix keeps (32 of 256 bits).
const DISPLAY_CHARS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub id: String,
    pub org_id: String,
    /// The member the token authenticates.
    pub user_id: String,
    /// `llm_gw_admin_` and the first characters of the secret.
    pub display_prefix: String,
    pub hash: GatewayKeyHash,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A token just made: the secret, to show once, and what is stored.
pub struct IssuedAdminToken {
    pub secret: SecretString,
    pub token: AdminToken,
}

impl AdminToken {
    /// A fresh token for the member `user_id` of `org_id`.
    pub fn issue(org_id: &str, user_id: &str, now: Timestamp) -> IssuedAdminToken {
        let secret = keys::generate_admin_token();
        let prefix_len = keys::ADMIN_PREFIX.len() + DISPLAY_CHARS;
        let token = AdminToken {
            id: new_id("atk"),
            org_id: org_id.to_owned(),
            user_id: user_id.to_owned(),
            display_prefix: secret.get(..prefix_len).unwrap_or(&secret).to_owned(),
            hash: GatewayKeyHash::of(&secret),
            created_at: now,
            revoked_at: None,
        };
        IssuedAdminToken {
            secret: SecretString::from(secret),
            token,
        }
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn an_issued_token_stores_only_the_hash_and_a_prefix_of_its_secret() {
        let issued = AdminToken::issue("org_1", "alice", Timestamp(5));
        let secret = issued.secret.expose_secret();
        assert!(secret.starts_with(keys::ADMIN_PREFIX));
        assert!(issued.token.hash.matches(&GatewayKeyHash::of(secret)));
        assert!(secret.starts_with(&issued.token.display_prefix));
        assert_eq!(
            issued.token.display_prefix.len(),
            keys::ADMIN_PREFIX.len() + 8
        );
        assert!(!issued.token.is_revoked());
    }
}
