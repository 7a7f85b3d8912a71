//! Blob names. One rule for every backend: segments joined by `/`, each made of ASCII letters,
//! digits, `.`, `_`, `-` and `=`, none empty, `.` or `..`, 512 bytes at most in all. Such a
//! name cannot leave a local folder, needs no escaping in an S3 key, and means the same thing
//! on a laptop and in a bucket.

use std::fmt;

/// The longest name accepted; S3 allows 1,024 bytes, and a local path needs room for the root.
pub const MAX_KEY_BYTES: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blob name {name:?}: {reason}")]
pub struct InvalidBlobKey {
    pub name: String,
    pub reason: &'static str,
}

impl BlobKey {
    pub fn parse(name: &str) -> Result<BlobKey, InvalidBlobKey> {
        let invalid = |reason| InvalidBlobKey {
            name: name.chars().take(80).collect(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.len() > MAX_KEY_BYTES {
            return Err(invalid("it is longer than 512 bytes"));
        }
        for segment in name.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(invalid("a segment is empty, `.` or `..`"));
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'='))
            {
                return Err(invalid(
                    "only ASCII letters, digits, `.`, `_`, `-`, `=` and `/` are allowed",
                ));
            }
        }
        Ok(BlobKey(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the key lies in the folder `prefix` (whole segments; empty matches all).
    pub fn is_under(&self, prefix: &str) -> bool {
        let prefix = prefix.trim_end_matches('/');
        prefix.is_empty()
            || self
                .0
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_a_folder_are_refused() {
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/./b", "a/..", "a b", "a\\b", "é",
        ] {
            assert!(BlobKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(BlobKey::parse(&"a".repeat(513)).is_err());
    }

    #[test]
    fn ordinary_names_are_kept_as_given() {
        let key = BlobKey::parse("recommendations/org_1/2026-11-26.json").unwrap();
        assert_eq!(key.as_str(), "recommendations/org_1/2026-11-26.json");
        assert!(key.is_under("recommendations"));
        assert!(key.is_under("recommendations/org_1/"));
        assert!(key.is_under(""));
        assert!(!key.is_under("recommendations/org"));
    }
}
