//! `GET /health`: liveness plus what a load balancer or an operator wants at a glance.
//! `GET /health/providers`: circuit breakers (as shared by the processes on the store) and this
//! process's live statistics per model, read-only.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    let mut providers: Vec<&str> = state.providers.keys().map(String::as_str).collect();
    providers.sort_unstable();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "providers": providers,
        "models": state.router.models().len(),
    }))
}

/// Only models that have seen traffic are listed; the others are closed with no statistics.
pub async fn providers(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.health.refresh().await;
    Json(json!({ "models": state.health.report() }))
}
