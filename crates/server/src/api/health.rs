//! `GET /api/health`: 200 when the database answers, 503 when it does not.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::WebError;
use crate::state::AppState;

pub async fn health(State(state): State<AppState>) -> Result<Json<Value>, WebError> {
    state.store.ping().await?;
    Ok(Json(
        json!({ "status": "ok", "database": state.store.dialect().name() }),
    ))
}
