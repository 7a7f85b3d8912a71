//! The gateway's HTTP surface, shared by the all-in-one local server and the Lambda functions.
//!
//! - [`app`]: the axum `Router` and its middleware stack.
//! - [`admin`]: the admin REST API under `/admin/v1`.
//! - [`routes`]: one module per endpoint.
//! - [`execute`]: calling the planned models in turn, behind their circuit breakers.
//! - [`shared_health`]: circuit breakers shared by the gateway processes on one store.
//! - [`stream`]: relaying provider streams as SSE; [`unfinished`]: billing answers cut short.
//! - [`receipt_log`]: recent receipts by request id.
//! - [`state`]: what handlers borrow, built once from the configuration.
//! - [`auth`], [`cors`], [`request_id`], [`errors`], [`receipts`]: the cross-cutting pieces.
//! - [`access`], [`limits`], [`lockout`], [`receipt_writer`]: keys from the store, rate limits,
//!   brute-force protection and the request log; [`counter_writer`], the counters' background
//!   writer.
//! - [`demo`]: simulated providers for `--demo`.
//! - [`serve`] and [`runtime_thread`]: binding, serving on threads of their own, and graceful
//!   shutdown.
//! - [`spend`]: costs, spend limits, alerts and anomaly detection.
//! - [`telemetry`], to set up logging.

pub mod access;
pub mod admin;
pub mod app;
pub mod auth;
pub mod connections;
pub mod cors;
pub mod counter_writer;
pub mod demo;
pub mod draining;
pub mod errors;
pub mod execute;
pub mod in_flight;
pub mod learned_quality;
pub mod limits;
pub mod lockout;
pub mod receipt_log;
pub mod receipt_writer;
pub mod receipts;
pub mod request_id;
pub mod retention;
pub mod routes;
pub mod runtime_thread;
pub mod serve;
pub mod shared_health;
pub mod spend;
pub mod state;
pub mod store_setup;
pub mod stream;
pub mod telemetry;
pub mod unfinished;
pub mod usage;

pub use state::AppState;
