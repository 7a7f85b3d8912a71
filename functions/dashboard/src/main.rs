//! `dashboard`: the Leptos status page (`web/`) behind a buffered Lambda Function URL: the
//! deployment's version, providers, routable models with catalog prices and quality priors, and
//! the circuit breakers this instance has seen. Pages are small and whole, so no streaming.
//!
//! Outside Lambda it serves the page on `LLM_GATEWAY_BIND` (default 127.0.0.1:9003).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use gateway_core::config::ProcessEnv;
use gateway_lambda::http::{self, InvokeMode};
use gateway_lambda::{settings, telemetry};
use gateway_server::AppState;

const LOCAL_BIND: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9003);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = settings::load()?;
    telemetry::init(&config.telemetry);
    // The page reads the configuration and this instance's breakers, not the store.
    let state = Arc::new(AppState::from_config(&config, &ProcessEnv)?);
    http::run(
        llm_gateway_web::router(state),
        InvokeMode::Buffered,
        None,
        LOCAL_BIND,
    )
    .await
}
