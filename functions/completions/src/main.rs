//! `completions`: the gateway's `/v1` surface (chat completions, embeddings, models, receipts)
//! and `/health` behind a Lambda Function URL with `InvokeMode: RESPONSE_STREAM`, so SSE chunks
//! reach the client as the provider sends them. Everything is built once at init: the
//! configuration, the store (DynamoDB in the template), provider clients and the router; each
//! invocation only runs the request.
//!
//! Outside Lambda it serves the same router on `LLM_GATEWAY_BIND` (default 127.0.0.1:9001).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use gateway_core::config::ProcessEnv;
use gateway_lambda::http::{self, InvokeMode};
use gateway_lambda::{settings, telemetry};
use gateway_server::{AppState, app, store_setup};

const LOCAL_BIND: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9001);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = settings::load()?;
    telemetry::init(&config.telemetry);
    let data_dir = store_setup::default_data_dir(&ProcessEnv);
    let store = store_setup::open(&config.store, &data_dir, &ProcessEnv).await?;
    let state = Arc::new(AppState::with_store(&config, &ProcessEnv, store).await?);
    if state.providers.is_empty() {
        tracing::warn!("no provider is configured: every model request will fail");
    }
    let access = http::access_of(&state);
    http::run(
        app::router(state),
        InvokeMode::ResponseStream,
        access,
        LOCAL_BIND,
    )
    .await
}
