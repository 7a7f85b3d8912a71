//! Gateway API keys: `llm_gw_prod_…` / `llm_gw_dev_…`, 256 bits of randomness, stored only as
//! SHA-256 and compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const PROD_PREFIX: &str = "llm_gw_prod_";
pub const DEV_PREFIX: &str = "llm_gw_dev_";
/// Members' personal tokens for the admin API. A prefix of its own, so an admin token is never
/// taken for an API key (nor the reverse) and a leaked one is recognisable.
pub const ADMIN_PREFIX: &str = "llm_gw_admin_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEnvironment {
    Production,
    Development,
}

impl KeyEnvironment {
    pub fn prefix(self) -> &'static str {
        match self {
            KeyEnvironment::Production => PROD_PREFIX,
            KeyEnvironment::Development => DEV_PREFIX,
        }
    }
}

/// A fresh key: the prefix and 32 random bytes as hex. Shown once, never stored.
pub fn generate(environment: KeyEnvironment) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{}{}", environment.prefix(), hex::encode(bytes))
}

/// A fresh admin token: [`ADMIN_PREFIX`] and 32 random bytes as hex. Shown once, never stored.
pub fn generate_admin_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{ADMIN_PREFIX}{}", hex::encode(bytes))
}

pub fn has_key_prefix(key: &str) -> bool {
    key.starts_with(PROD_PREFIX) || key.starts_with(DEV_PREFIX)
}

/// The stored form of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GatewayKeyHash([u8; 32]);

impl GatewayKeyHash {
    pub fn of(key: &str) -> Self {
        GatewayKeyHash(Sha256::digest(key.as_bytes()).into())
    }

    pub fn from_hex(hex_digest: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digest, &mut bytes).ok()?;
        Some(GatewayKeyHash(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Compares without an early exit, so timing says nothing about how much matched.
    pub fn matches(&self, other: &GatewayKeyHash) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_carry_their_prefix_and_256_bits() {
        let key = generate(KeyEnvironment::Development);
        assert!(key.starts_with(DEV_PREFIX));
        assert_eq!(key.len(), DEV_PREFIX.len() + 64);
        assert_ne!(key, generate(KeyEnvironment::Development));
    }

    #[test]
    fn admin_tokens_carry_their_own_prefix_and_256_bits() {
        let token = generate_admin_token();
        assert!(token.starts_with(ADMIN_PREFIX));
        assert_eq!(token.len(), ADMIN_PREFIX.len() + 64);
        assert!(!has_key_prefix(&token));
    }

    #[test]
    fn a_hash_round_trips_through_hex_and_matches_only_its_key() {
        let key = generate(KeyEnvironment::Production);
        let hash = GatewayKeyHash::of(&key);
        assert!(
            GatewayKeyHash::from_hex(&hash.to_hex())
                .unwrap()
                .matches(&hash)
        );
        assert!(!GatewayKeyHash::of("llm_gw_prod_other").matches(&hash));
        assert!(GatewayKeyHash::from_hex("zz").is_none());
    }
}
