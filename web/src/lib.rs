//! The gateway's dashboard, rendered on the server with Leptos: one HTML page per request, no
//! WASM, so it is served from a Lambda function (or locally) like any other route. Today it is
//! the deployment's status page; the full dashboard (analytics, request logs, keys) grows here.
//!
//! - [`status`]: what the page shows, read from the gateway's state (pure data).
//! - [`page`]: the Leptos components that render it.
//! - [`router`]: the axum routes that serve it.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use gateway_server::AppState;

pub mod page;
pub mod status;

/// `GET /`: the status page. Like `/health/providers`, it shows nothing secret.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new().route("/", get(status_page)).with_state(state)
}

async fn status_page(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let html = page::render(&status::Status::of(&state));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
}
