//! Storage for LLM Gateway: organisations and members, API keys, rate-limit counters, the
//! request log (receipts), the audit log and the circuit breakers gateway processes share.
//!
//! - [`model`]: the records and their rules (plans, permissions, key status, IP allowlists,
//!   log queries and cursors). No I/O.
//! - [`ports`]: the async traits the gateway talks to ([`OrgStore`], [`KeyStore`],
//!   [`AdminTokenStore`],
//!   [`Counters`], [`ReceiptStore`], [`AuditLog`], [`BreakerStore`]), with one error type,
//!   [`StoreError`].
//! - [`sqlite`]: the embedded default, one SQLite file in the data directory (or memory).
//! - `dynamodb` (feature `dynamodb`): one DynamoDB table for AWS deployments; its module docs
//!   describe the table design.
//!
//! Both backends pass the same contract suite (`tests/contract/`), run against SQLite always
//! and against a local moto server by `./tests/run.sh`.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod error;
pub mod model;
pub mod ports;
pub mod sqlite;
pub mod time;

pub use error::{StoreError, StoreResult};
pub use ports::{
    Adjustment, AdminTokenStore, Admission, Ask, AuditLog, BreakerStore, Counters, KeyStore,
    OrgStore, ReceiptStore, Store,
};
pub use time::Timestamp;
