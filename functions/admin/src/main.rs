//! `admin`: the admin API (`/admin/v1`: organisations, members, keys, logs, audit) and
//! `/health` behind a buffered Lambda Function URL: its answers are small and whole. Members
//! authenticate with their admin tokens, checked by the admin router itself; state (the store,
//! DynamoDB in the template) is built once at init.
//!
//! Outside Lambda it serves the same routes on `LLM_GATEWAY_BIND` (default 127.0.0.1:9002).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use gateway_core::config::ProcessEnv;
use gateway_lambda::http::{self, InvokeMode};
use gateway_lambda::{settings, telemetry};
use gateway_server::{AppState, admin, request_id, routes, store_setup};

const LOCAL_BIND: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9002);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = settings::load()?;
    telemetry::init(&config.telemetry);
    let data_dir = store_setup::default_data_dir(&ProcessEnv);
    let store = store_setup::open(&config.store, &data_dir, &ProcessEnv).await?;
    let state = Arc::new(AppState::with_store(&config, &ProcessEnv, store).await?);
    let access = http::access_of(&state);
    let router = Router::new()
        .nest_service("/admin/v1", admin::router(state.clone()))
        .route("/health", get(routes::health::health))
        .with_state(state)
        // As in the gateway's router: a request id on every answer, OpenAI-shaped errors for
        // the framework's own 404/405.
        .layer(middleware::from_fn(request_id::assign));
    http::run(router, InvokeMode::Buffered, access, LOCAL_BIND).await
}
