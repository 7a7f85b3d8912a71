//! `GET /health`: liveness plus what a load balancer or an operator wants at a glance.

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
