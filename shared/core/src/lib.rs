//! The domain of LLM Gateway, free of any transport or cloud SDK.
//!
//! - [`wire`]: the OpenAI request and response types clients speak, with validation.
//! - [`error`]: the one OpenAI-shaped error every failure becomes.
//! - [`upstream`]: the [`upstream::Provider`] port adapters implement, and their errors.
//! - [`catalog`]: prices, limits and capabilities of every model.
//! - [`routing`]: which models serve a request, in which order (`auto`, hints, fallbacks).
//! - [`health`]: circuit breakers and live provider statistics.
//! - [`receipt`]: the execution receipt returned with every response.
//! - [`config`]: the configuration file, environment overrides and their resolution.
//! - [`providers`]: the providers known by name and their dialects.
//! - [`keys`]: gateway API keys.
//! - [`tokens`]: token counting with a real tokenizer.

pub mod catalog;
pub mod config;
pub mod error;
pub mod health;
pub mod keys;
pub mod providers;
pub mod receipt;
pub mod routing;
pub mod tokens;
pub mod upstream;
pub mod wire;

pub use error::{ApiError, ErrorKind};
