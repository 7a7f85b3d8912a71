//! What every Lambda function of the gateway shares, so that each function's `main` is a few
//! lines: load the configuration, start logging, build what it serves, run.
//!
//! - [`settings`]: the configuration file packaged with the function (or named by
//!   `LLM_GATEWAY_CONFIG`) plus `LLM_GATEWAY__…` environment overrides.
//! - [`telemetry`]: JSON logs in Lambda, each line carrying the invocation's request id.
//! - [`http`]: an axum `Router` served through `lambda_http` (streamed or buffered) inside
//!   Lambda, and on a local socket outside it, so every function also runs on a laptop.
//! - [`source_ip`]: the caller's address from the Function URL event, where the local server
//!   would have the socket's.
//! - [`flush_on_end`]: receipts written before an invocation ends, since a frozen Lambda
//!   environment runs no background writer.
//! - [`request_span`]: the invocation's request id on every log line, streamed bodies included.

pub mod flush_on_end;
pub mod http;
pub mod request_span;
pub mod settings;
pub mod source_ip;
pub mod telemetry;

/// Whether this process runs inside Lambda (or under a Runtime API stand-in): the runtime
/// sets this variable, nothing else does.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty())
}
