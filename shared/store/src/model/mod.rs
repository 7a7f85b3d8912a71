//! The records the stores keep. Pure data and rules, no I/O: both backends store these as they
//! are, and the domain checks (plan limits, permissions, key status, IP allowlists) live here
//! so that they are the same whichever backend answered.

pub mod admin_token;
pub mod api_key;
pub mod audit;
pub mod breaker;
pub mod id;
pub mod member;
pub mod org;
pub mod query;
pub mod receipt;
pub mod spend;
