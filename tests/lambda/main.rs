#![expect(clippy::unwrap_used, reason = "a failed step is a failed test")]
//! The functions' real Lambda code path, without AWS: each function binary is started as
//! Lambda starts `bootstrap`, against a stand-in for the Runtime API
//! (`gateway_tests::runtime_api`), and handed an event from `events/`. The completions function
//! talks to fake providers and to DynamoDB on the moto server `./tests/run.sh` starts
//! (`LLM_GATEWAY_TEST_DYNAMODB_URL`); recommendations writes to S3 on the same server
//! (`LLM_GATEWAY_TEST_S3_URL`); spend-alerts sends its webhook to a receiver the test starts.
//!
//! Built binaries are used as `cargo build --workspace` left them (run.sh builds first).

mod admin;
mod completions;
mod dashboard;
mod harness;
mod recommendations;
mod spend_alerts;
