//! `GET /healthz` (liveness) and `GET /readyz` (readiness), both without an API key and cheap.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::error_body;
use super::extract::Json;
use crate::store::Readiness;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Answers as long as the process serves; it does not touch the database, so a database outage
/// does not get healthy replicas restarted.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the database answers and every migration of this build is applied: two small
/// reads, bounded by the pool's acquire timeout. A load balancer stops sending traffic on 503
/// and resumes once the database is back, with no restart.
async fn readyz(State(state): State<AppState>) -> Response {
    let detail = match state.publisher.store.readiness().await {
        Ok(Readiness::Ready) => return Json(json!({ "status": "ready" })).into_response(),
        Ok(Readiness::MissingMigrations(versions)) => format!(
            "the database lacks migrations {versions:?} of this build; run `mosaic-social migrate`"
        ),
        Err(error) => {
            // The cause may name hosts and users: the log has it, the answer does not.
            tracing::warn!(error = %error, "readiness check failed");
            if error.is_unavailable() {
                "the service's database cannot be reached".to_owned()
            } else {
                "the service's database answered the readiness check with an error".to_owned()
            }
        }
    };
    let mut response = error_body(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        &detail,
        Map::new(),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
