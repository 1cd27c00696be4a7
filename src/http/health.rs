//! `GET /healthz` (liveness) and `GET /readyz` (readiness), both without an API key and cheap.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ErrorCode, error_body};
use super::extract::Json;
use super::openapi::schemas::{ErrorBody, HealthStatus};
use crate::store::Readiness;

/// The most `/readyz` takes: past it the database counts as not answering (503). Below the
/// usual probe timeouts (Kubernetes' default is 1 s of a 10 s period; a load balancer's is
/// commonly 2 to 5 s), so that a frozen database is reported, not mistaken for a hung process.
pub const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Liveness: the process serves.
///
/// No API key; does not touch the database.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    security(()),
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = HealthStatus)),
)]
// Answers as long as the process serves; it does not touch the database, so a database outage
// does not get healthy replicas restarted.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and every migration of this build is applied.
///
/// No API key. A load balancer stops sending traffic on 503 and resumes on 200.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`", body = HealthStatus,
         example = json!({"status": "ready"})),
        (status = 503, description = "`service_unavailable`: the database cannot be reached, \
                                      did not answer within 2 s, or lacks migrations.",
         body = ErrorBody,
         headers(("Retry-After" = String, description = "Seconds to wait."))),
    ),
)]
// Ready when the database answers and every migration of this build is applied: two small
// reads, answered within READINESS_TIMEOUT whatever the database does. A load balancer stops
// sending traffic on 503 and resumes once the database is back, with no restart.
async fn readyz(State(state): State<AppState>) -> Response {
    let checked = tokio::time::timeout(READINESS_TIMEOUT, state.publisher.store.readiness()).await;
    let detail = match checked {
        Ok(Ok(Readiness::Ready)) => return Json(json!({ "status": "ready" })).into_response(),
        Ok(Ok(Readiness::MissingMigrations(versions))) => format!(
            "the database lacks migrations {versions:?} of this build; run `mosaic-social migrate`"
        ),
        Err(_) => {
            tracing::warn!(
                timeout_secs = READINESS_TIMEOUT.as_secs(),
                "readiness check: the database did not answer in time"
            );
            format!(
                "the service's database did not answer within {} s",
                READINESS_TIMEOUT.as_secs()
            )
        }
        Ok(Err(error)) => {
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
        ErrorCode::ServiceUnavailable.status(),
        ErrorCode::ServiceUnavailable.code(),
        &detail,
        Map::new(),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
