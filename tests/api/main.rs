//! Black-box tests: a real gateway on a loopback port, real fake providers behind it, and
//! requests sent the way a client sends them.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

mod admin;
mod anthropic;
mod bedrock;
mod breakers;
mod chat;
mod cohere;
mod embeddings;
mod errors;
mod fallback;
mod gemini;
mod helpers;
mod in_flight;
mod learned_routing;
mod models;
mod org_routing;
mod ratelimits;
mod routing;
mod sagemaker;
mod security;
mod serving;
mod spend;
mod spend_alerts;
mod streaming;
mod stub;
