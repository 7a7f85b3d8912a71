//! The one error type of every port, so callers can tell "already exists" and "not there" apart
//! from a backend failure without knowing which backend answered.

/// What went wrong in a store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write (an organisation name, a member, a key hash), or a
    /// conditional update found the record in another state (a key already rotated).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record the call names does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The input breaks a domain rule (an enterprise plan without limits, a retention of 3 days).
    #[error("invalid: {0}")]
    Invalid(String),
    /// A stored record could not be read back (a corrupt row, a cursor that is not ours).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The backend failed (I/O, SQLite, the DynamoDB service). The message never holds a secret.
    #[error("storage backend: {0}")]
    Backend(String),
}

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(format!("stored JSON: {err}"))
    }
}
