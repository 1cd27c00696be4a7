//! `GET /metrics`: every metric in Prometheus's text format, without an API key. On the main
//! listener unless `METRICS_BIND_ADDR` gives it one of its own (then only there).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::telemetry::metrics;

/// The route, for the main router or a listener of its own.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}

/// Every metric, in Prometheus's text format.
///
/// No API key. Served here unless `METRICS_BIND_ADDR` gives it a listener of its own (then this
/// route answers 404 on the main listener). The metrics are listed in `docs/operations.md`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Prometheus text format 0.0.4.", body = String,
               content_type = "text/plain; version=0.0.4; charset=utf-8")),
)]
// Samples the database pool, then renders everything recorded so far.
async fn scrape(State(state): State<AppState>) -> Response {
    let text = metrics::render(state.publisher.store.pool_stats());
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
