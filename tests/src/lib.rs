//! Shared code of the black-box tests and the benchmark.
//!
//! - [`runtime_api`]: a stand-in for the Lambda Runtime API.
//! - [`lambda_process`]: starting a function binary against it, as Lambda would.

pub mod lambda_process;
pub mod runtime_api;
