//! The HTTP layer: the application state, the router with its middleware, and serving with a
//! graceful shutdown. One file per resource below it.

mod error;
mod extract;
mod health;
mod middleware;
mod social_post;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;

use crate::ayrshare::AyrshareClient;
use crate::store::DynStore;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Marks every response of a sandboxed server.
pub const SANDBOX_HEADER: &str = "x-mosaic-sandbox";

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub ayrshare: Arc<AyrshareClient>,
    /// Work that must finish even if the client goes away (recording an Ayrshare outcome);
    /// shutdown waits for it.
    pub tasks: TaskTracker,
    /// The Ayrshare timeout: the request timeout is derived from it.
    pub ayrshare_timeout: Duration,
    /// Whether Ayrshare is the in-process simulator.
    pub sandbox: bool,
}

/// The whole application: routes, JSON fallbacks and middleware.
pub fn router(state: AppState) -> Router {
    // Longer than an Ayrshare call plus the database work around it, so that a slow Ayrshare
    // is answered as `provider_timeout` by the handler, not cut off here.
    let request_timeout = state.ayrshare_timeout + Duration::from_secs(15);
    let sandbox = state.sandbox;
    let router = Router::new()
        .merge(health::router())
        .merge(social_post::router())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state);

    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::trace_layer())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::map_response(
            middleware::ensure_json_error,
        ))
        .layer(axum::middleware::from_fn(middleware::refuse_large_bodies))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        // Bodies without a Content-Length are cut off here, by the JSON extractor.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let router = router.layer(layers);
    if sandbox {
        router.layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static(SANDBOX_HEADER),
            HeaderValue::from_static("true"),
        ))
    } else {
        router
    }
}

/// Serves until `shutdown` completes, then lets requests in flight and their recording work
/// finish before returning.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tasks = state.tasks.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    tasks.close();
    tasks.wait().await;
    Ok(())
}
