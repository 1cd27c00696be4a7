//! `GET /healthz`: liveness, without an API key.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use super::AppState;
use super::extract::Json;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// Answers as long as the process serves; it does not touch the database, so a database outage
/// does not get healthy replicas restarted.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
