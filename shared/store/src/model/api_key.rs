//! API keys as stored: never the secret, only its SHA-256 ([`GatewayKeyHash`]) and a short
//! display prefix so people can tell their keys apart. A key's status (active, revoked,
//! expired, replaced after rotation) and its IP allowlist are decided here, not in a backend.

use std::net::IpAddr;

use gateway_core::keys::{self, GatewayKeyHash, KeyEnvironment};
use ipnet::IpNet;
use secrecy::SecretString;

use crate::error::{StoreError, StoreResult};
use crate::model::id::new_id;
use crate::time::Timestamp;

/// How many characters of the random part the display prefix keeps (32 of 256 bits).
const DISPLAY_CHARS: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub environment: KeyEnvironment,
    /// The environment prefix and the first characters of the secret: `llm_gw_prod_3f9c1a2b`.
    pub display_prefix: String,
    pub hash: GatewayKeyHash,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// Set by rotation: the key that replaces this one.
    pub replaced_by: Option<String>,
    /// Set by rotation: the end of the grace period during which this key still works.
    pub valid_until: Option<Timestamp>,
    /// Overrides of the organisation's limits for this key.
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
    /// Networks requests may come from; empty means any address.
    pub ip_allowlist: Vec<IpNet>,
}

/// What a caller chooses when creating a key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySpec {
    pub org_id: String,
    pub name: String,
    pub environment: KeyEnvironment,
    pub expires_at: Option<Timestamp>,
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
    pub ip_allowlist: Vec<IpNet>,
}

/// What may change on a stored key after creation (the rest is fixed, or changes only by
/// revocation and rotation).
#[derive(Debug, Clone, PartialEq)]
pub struct KeySettings {
    pub name: String,
    pub expires_at: Option<Timestamp>,
    pub rpm_limit: Option<u64>,
    pub tpm_limit: Option<u64>,
    pub ip_allowlist: Vec<IpNet>,
}

/// A new key and its secret. The secret exists only here: show it once, store `key`.
#[derive(Debug)]
pub struct IssuedKey {
    pub secret: SecretString,
    pub key: ApiKey,
}

/// Why a key may or may not be used at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    /// Rotated, and still inside its grace period.
    ActiveUntilReplaced,
    Revoked,
    Expired,
    /// Rotated, and its grace period is over.
    Replaced,
}

impl KeyStatus {
    pub fn is_usable(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::ActiveUntilReplaced)
    }
}

impl ApiKey {
    /// A fresh key for `spec`: 256 random bits behind the environment's prefix.
    pub fn issue(spec: KeySpec, now: Timestamp) -> IssuedKey {
        let secret = keys::generate(spec.environment);
        let prefix_len = spec.environment.prefix().len() + DISPLAY_CHARS;
        let display_prefix = secret.get(..prefix_len).unwrap_or(&secret).to_owned();
        let key = ApiKey {
            id: new_id("key"),
            org_id: spec.org_id,
            name: spec.name,
            environment: spec.environment,
            display_prefix,
            hash: GatewayKeyHash::of(&secret),
            created_at: now,
            expires_at: spec.expires_at,
            revoked_at: None,
            last_used_at: None,
            replaced_by: None,
            valid_until: None,
            rpm_limit: spec.rpm_limit,
            tpm_limit: spec.tpm_limit,
            ip_allowlist: spec.ip_allowlist,
        };
        IssuedKey {
            secret: SecretString::from(secret),
            key,
        }
    }

    /// The key that replaces this one on rotation: same organisation, name, environment,
    /// expiry, limits and allowlist; a new secret.
    pub fn successor(&self, now: Timestamp) -> IssuedKey {
        ApiKey::issue(
            KeySpec {
                org_id: self.org_id.clone(),
                name: self.name.clone(),
                environment: self.environment,
                expires_at: self.expires_at,
                rpm_limit: self.rpm_limit,
                tpm_limit: self.tpm_limit,
                ip_allowlist: self.ip_allowlist.clone(),
            },
            now,
        )
    }

    /// The fields [`KeySettings`] covers, as stored now.
    pub fn settings(&self) -> KeySettings {
        KeySettings {
            name: self.name.clone(),
            expires_at: self.expires_at,
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
            ip_allowlist: self.ip_allowlist.clone(),
        }
    }

    pub fn status(&self, now: Timestamp) -> KeyStatus {
        if self.revoked_at.is_some_and(|at| at <= now) {
            return KeyStatus::Revoked;
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return KeyStatus::Expired;
        }
        match (&self.replaced_by, self.valid_until) {
            (Some(_), Some(until)) if until <= now => KeyStatus::Replaced,
            (Some(_), _) => KeyStatus::ActiveUntilReplaced,
            (None, _) => KeyStatus::Active,
        }
    }

    /// Whether a request from `ip` may use this key. IPv4 addresses written as IPv6
    /// (`::ffff:10.0.0.1`, as dual-stack sockets report them) are checked as IPv4.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.ip_allowlist.is_empty() {
            return true;
        }
        let ip = ip.to_canonical();
        self.ip_allowlist.iter().any(|net| net.contains(&ip))
    }

    pub fn validate(&self) -> StoreResult<()> {
        if self.id.is_empty() || self.org_id.is_empty() || self.name.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a key needs an id, an organisation and a name".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The stored label of an environment.
pub fn environment_label(environment: KeyEnvironment) -> &'static str {
    match environment {
        KeyEnvironment::Production => "prod",
        KeyEnvironment::Development => "dev",
    }
}

pub fn parse_environment(label: &str) -> StoreResult<KeyEnvironment> {
    match label {
        "prod" => Ok(KeyEnvironment::Production),
        "dev" => Ok(KeyEnvironment::Development),
        other => Err(StoreError::Corrupt(format!(
            "unknown key environment {other:?}"
        ))),
    }
}

/// The allowlist as stored: CIDR strings joined by commas.
pub fn allowlist_to_text(list: &[IpNet]) -> String {
    list.iter()
        .map(IpNet::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub fn allowlist_from_text(text: &str) -> StoreResult<Vec<IpNet>> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<IpNet>()
                .map_err(|_| StoreError::Corrupt(format!("stored network {part:?} is not CIDR")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn spec(allow: &[&str]) -> KeySpec {
        KeySpec {
            org_id: "org_1".into(),
            name: "ci".into(),
            environment: KeyEnvironment::Production,
            expires_at: None,
            rpm_limit: None,
            tpm_limit: None,
            ip_allowlist: allow.iter().map(|n| n.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn an_issued_key_stores_only_its_hash_and_a_short_prefix() {
        let issued = ApiKey::issue(spec(&[]), Timestamp(5));
        let secret = issued.secret.expose_secret();
        assert!(secret.starts_with("llm_gw_prod_"));
        assert_eq!(secret.len(), "llm_gw_prod_".len() + 64);
        assert_eq!(issued.key.display_prefix, secret[..20]);
        assert!(issued.key.hash.matches(&GatewayKeyHash::of(secret)));
    }

    #[test]
    fn status_follows_revocation_expiry_and_rotation_grace() {
        let mut key = ApiKey::issue(spec(&[]), Timestamp(0)).key;
        assert_eq!(key.status(Timestamp(10)), KeyStatus::Active);
        key.replaced_by = Some("key_2".into());
        key.valid_until = Some(Timestamp(100));
        assert_eq!(key.status(Timestamp(99)), KeyStatus::ActiveUntilReplaced);
        assert_eq!(key.status(Timestamp(100)), KeyStatus::Replaced);
        key.expires_at = Some(Timestamp(50));
        assert_eq!(key.status(Timestamp(60)), KeyStatus::Expired);
        key.revoked_at = Some(Timestamp(20));
        assert_eq!(key.status(Timestamp(60)), KeyStatus::Revoked);
        assert!(!KeyStatus::Revoked.is_usable());
    }

    #[test]
    fn allowlists_match_v4_v6_and_mapped_addresses() {
        let key = ApiKey::issue(spec(&["10.1.0.0/16", "2001:db8::/32"]), Timestamp(0)).key;
        assert!(key.allows("10.1.200.3".parse().unwrap()));
        assert!(!key.allows("10.2.0.1".parse().unwrap()));
        assert!(key.allows("2001:db8:1::9".parse().unwrap()));
        assert!(!key.allows("2001:db9::1".parse().unwrap()));
        assert!(key.allows("::ffff:10.1.0.1".parse().unwrap()));
        let open = ApiKey::issue(spec(&[]), Timestamp(0)).key;
        assert!(open.allows("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn allowlists_round_trip_through_text() {
        let list: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert_eq!(
            allowlist_from_text(&allowlist_to_text(&list)).unwrap(),
            list
        );
        assert!(allowlist_from_text("").unwrap().is_empty());
        assert!(allowlist_from_text("nonsense").is_err());
    }
}
