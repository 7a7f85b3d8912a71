//! `GET /v1/models`: every routable model as `provider/model`, and `auto`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use gateway_core::routing::AUTO;
use gateway_core::wire::{ModelList, ModelObject};

use crate::state::AppState;

/// Models have no creation date of their own here; a fixed one keeps the list stable.
const CREATED: i64 = 1_700_000_000;

pub async fn list(State(state): State<Arc<AppState>>) -> Json<ModelList> {
    let auto = ModelObject {
        id: AUTO.to_owned(),
        object: "model",
        created: CREATED,
        owned_by: "llm-gateway".to_owned(),
    };
    let data = std::iter::once(auto)
        .chain(state.router.models().iter().map(|m| ModelObject {
            id: m.id.clone(),
            object: "model",
            created: CREATED,
            owned_by: m.provider().to_owned(),
        }))
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}
