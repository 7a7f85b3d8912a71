//! The gateway's HTTP surface: one axum `Router` for the local server and for Lambda alike.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::state::AppState;
use crate::{admin, auth, in_flight, request_id, routes};

/// Builds the router with the whole middleware stack. Layers listed last run first.
pub fn router(state: Arc<AppState>) -> Router {
    let mut v1 = Router::new()
        .route("/chat/completions", post(routes::chat::create))
        .route("/embeddings", post(routes::embeddings::create))
        .route("/models", get(routes::models::list))
        .route("/receipts/{request_id}", get(routes::receipts::get))
        // Authentication guards every /v1 route, and only those.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    if let Some(limit) = state.in_flight.clone() {
        // Outside authentication: a request refused for load costs no key lookup.
        v1 = v1.route_layer(middleware::from_fn_with_state(limit, in_flight::admit));
    }

    let app = Router::new()
        .nest("/v1", v1)
        // Members authenticate with admin tokens inside, route by route (see `admin`).
        .nest_service("/admin/v1", admin::router(state.clone()))
        .route("/health", get(routes::health::health))
        // Breaker states and error rates say nothing secret; like /health, no key needed.
        .route("/health/providers", get(routes::health::providers))
        // Bodies past the configured size are refused while reading (413).
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        // Every request gets an id before anything else can fail; framework-made 404/405/413
        // answers get the OpenAI error shape; keys are marked sensitive for anything that logs
        // headers. One layer for the three: each layer costs every request a boxed future.
        .layer(middleware::from_fn(request_id::assign));
    let app = app.with_state(state.clone());
    match state.cors.clone() {
        // Browser preflights are answered before anything else, keys included. The layer wraps
        // the whole router rather than each route, so a preflight is not taken for a wrong
        // method (which would add `Allow`).
        Some(cors) => Router::new().fallback_service(app).layer(cors),
        None => app,
    }
}
