//! `GET /metrics`: every metric in Prometheus's text format, without an API key. On the main
//! listener unless `METRICS_BIND_ADDR` gives it one of its own (then only there).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::telemetry::metrics;

/// The route, for the main router or a listener of its own.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// Samples the database pool, then renders everything recorded so far.
async fn scrape(State(state): State<AppState>) -> Response {
    let text = metrics::render(state.publisher.store.pool_stats());
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
