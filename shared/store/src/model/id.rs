//! Record ids: a readable kind prefix and 128 random bits, so ids never collide between
//! processes that share a table and never reveal creation order or counts.

use rand::RngCore;

/// A new id such as `org_5f0c…` (the prefix, then 32 hex digits).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}
