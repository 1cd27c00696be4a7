//! The HTTP layer: the application state, the router with its middleware, and serving with a
//! graceful shutdown. One file per resource below it.

mod error;
mod extract;
mod health;
mod middleware;
pub mod server;
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
pub use server::ConnectionLimits;

use crate::ayrshare::AyrshareClient;
use crate::store::DynStore;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long past the Ayrshare timeout a create waits for its record to be written and updated
/// before answering `provider_timeout` with the record still `pending`.
pub const RECORDING_ALLOWANCE: Duration = Duration::from_secs(10);

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
    let routes = Router::new()
        .merge(health::router())
        .merge(social_post::router());
    with_middleware(routes, state)
}

/// Adds the fallbacks and the middleware stack (outermost first) to `routes`.
fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    // A last resort, past the handlers' own deadlines (the create answers by the Ayrshare
    // timeout plus RECORDING_ALLOWANCE), so that a slow Ayrshare is answered by the handler,
    // with the tracking fields, and not cut off here.
    let request_timeout = state.ayrshare_timeout + RECORDING_ALLOWANCE + Duration::from_secs(20);
    let sandbox = state.sandbox;
    let router = routes
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state);

    let layers = ServiceBuilder::new()
        .layer(axum::middleware::map_request(
            middleware::drop_unsafe_request_id,
        ))
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
        // refuse_large_bodies has already bounded every body; this keeps the extractors' own
        // limit in step with it (axum's default is 2 MB) should that layer ever move.
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
/// finish before returning. With the default `ConnectionLimits`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(listener, state, ConnectionLimits::default(), shutdown).await
}

/// `serve`, within `limits` (see `server::serve_connections`).
pub async fn serve_with_limits(
    listener: TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tasks = state.tasks.clone();
    server::serve_connections(listener, router(state), limits, shutdown).await?;
    tasks.close();
    tasks.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use axum::routing::get;
    use secrecy::SecretString;
    use tower::ServiceExt;

    use super::*;
    use crate::ayrshare::AyrshareSettings;
    use crate::store::SqliteStore;

    async fn state(sandbox: bool) -> AppState {
        let store = SqliteStore::connect("sqlite::memory:", 1).await.unwrap();
        let settings = AyrshareSettings {
            base_url: "http://127.0.0.1:9/api".parse().unwrap(),
            api_key: SecretString::from("unused"),
            timeout: Duration::from_secs(1),
            x_credentials: None,
        };
        AppState {
            store: Arc::new(store),
            ayrshare: Arc::new(AyrshareClient::new(settings).unwrap()),
            tasks: TaskTracker::new(),
            ayrshare_timeout: Duration::from_secs(1),
            sandbox,
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_json_500_without_the_message() {
        let routes = Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("secret internals");
                }
                "unreachable"
            }),
        );
        let app = with_middleware(routes, state(false).await);
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert!(response.headers().contains_key("x-request-id"));
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(response.into_body(), 10_000).await.unwrap()).unwrap();
        assert_eq!(body["error"], "internal_server_error");
        assert!(!body.to_string().contains("secret internals"));
    }

    #[tokio::test]
    async fn a_sandboxed_app_marks_every_response() {
        let app = router(state(true).await);
        for path in ["/healthz", "/nowhere"] {
            let response = app
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.headers()[SANDBOX_HEADER], "true", "{path}");
        }
        let plain = router(state(false).await);
        let response = plain
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(!response.headers().contains_key(SANDBOX_HEADER));
    }
}
