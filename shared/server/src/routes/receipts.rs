//! `GET /v1/receipts/{request_id}`: the full receipt of a recent request that reached a
//! provider, answered or not, from the in-memory ring (`routing.receipts_kept`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use gateway_core::receipt::Receipt;
use gateway_core::{ApiError, ErrorKind};

use crate::errors::ErrorResponse;
use crate::state::AppState;

pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(request_id): Path<String>,
) -> Result<Json<Receipt>, ErrorResponse> {
    let receipt = state.receipts.get(&request_id);
    receipt.map(|r| Json((*r).clone())).ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            format!(
                "No receipt for `{request_id}`: this gateway keeps the receipts of its most \
                 recent requests in memory."
            ),
        )
        .with_code("receipt_not_found")
        .into()
    })
}
