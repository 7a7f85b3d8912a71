//! Bearer-key authentication for `/v1`. Keys are compared by SHA-256, never stored in clear.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gateway_core::keys::GatewayKeyHash;
use gateway_core::{ApiError, ErrorKind};

use crate::errors::ErrorResponse;
use crate::state::AppState;

pub async fn require_key(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(presented) = presented.filter(|k| !k.is_empty()) else {
        return ErrorResponse::from(
            ApiError::new(
                ErrorKind::Authentication,
                "No API key provided. Send `Authorization: Bearer <your gateway key>`.",
            )
            .with_code("missing_api_key"),
        )
        .into_response();
    };
    let hash = GatewayKeyHash::of(presented);
    match state.keys.iter().find(|(_, h)| h.matches(&hash)) {
        Some(_) => next.run(request).await,
        None => ErrorResponse::from(
            ApiError::new(ErrorKind::Authentication, "Incorrect API key provided.")
                .with_code("invalid_api_key"),
        )
        .into_response(),
    }
}
