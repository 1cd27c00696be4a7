//! The HTTP layer: the application state, the router with its middleware and its OpenAPI
//! document, and serving with a graceful shutdown. One file per resource below it; `openapi`
//! holds what the document's operations share, `docs_page` serves it.

mod comments;
mod connections;
mod docs_page;
mod error;
mod events;
mod extract;
mod health;
mod metrics;
mod middleware;
pub mod openapi;
mod posts;
pub mod rate_limit;
pub mod server;
mod social_post;
mod webhook_endpoints;
mod webhooks;
mod whoami;
mod workspaces;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;
pub use server::ConnectionLimits;

use crate::publishing::Publisher;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Marks every response of a sandboxed server.
pub const SANDBOX_HEADER: &str = "x-mosaic-sandbox";

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub publisher: Publisher,
    /// The events family's use cases (`GET /events`).
    pub events: crate::events::Events,
    /// The connections family's use cases (`/social/{platform}/...`).
    pub connections: crate::connections::Connections,
    /// Whether Ayrshare is the in-process simulator.
    pub sandbox: bool,
    /// The per-API-key rate limit (per replica), checked by the `Authenticated` extractor.
    pub key_rate_limit: Arc<rate_limit::KeyRateLimit>,
    /// Whether `GET /metrics` is on the main router: false when `METRICS_BIND_ADDR` gives it a
    /// listener of its own (see [`metrics_router`]).
    pub metrics_on_main: bool,
}

/// The whole application: routes, JSON fallbacks and middleware.
pub fn router(state: AppState) -> Router {
    let (routes, document) = api_routes(state.metrics_on_main);
    let json = serde_json::to_vec(&document).expect("an OpenAPI document serializes");
    let routes = routes.layer(Extension(docs_page::OpenApiJson(json.into())));
    with_middleware(routes, state)
}

/// Every route the main listener serves, and the OpenAPI document that describes exactly them:
/// both come from the same `utoipa_axum::routes!` registrations. `/metrics` is in both only when
/// it is served here (`metrics_on_main`).
pub fn api_routes(metrics_on_main: bool) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let mut routes = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::router())
        .merge(social_post::router())
        .merge(posts::router())
        .merge(comments::router())
        .merge(events::router())
        .merge(connections::router())
        .merge(whoami::router())
        .merge(webhooks::router())
        .merge(webhook_endpoints::router())
        .merge(workspaces::router())
        .merge(docs_page::router());
    if metrics_on_main {
        routes = routes.merge(metrics::router());
    }
    let (routes, mut document) = routes.split_for_parts();
    openapi::finish(&mut document);
    (routes, document)
}

/// `GET /metrics` alone, for the listener `METRICS_BIND_ADDR` names; anything else there is a
/// JSON 404.
pub fn metrics_router(state: AppState) -> Router {
    let (routes, _document) = metrics::router().split_for_parts();
    routes.fallback(middleware::not_found).with_state(state)
}

/// Adds the fallbacks and the middleware stack (outermost first) to `routes`.
fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    // A last resort, past the handlers' own deadlines (the create answers by the Ayrshare
    // timeout plus RECORDING_ALLOWANCE), so that a slow Ayrshare is answered by the handler,
    // with the tracking fields, and not cut off here.
    let request_timeout = state.publisher.settings.answer_deadline() + Duration::from_secs(20);
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
        .layer(axum::middleware::from_fn(middleware::record_metrics))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::map_response(
            middleware::ensure_json_error,
        ))
        .layer(axum::middleware::from_fn(middleware::answer_slow_bodies))
        .layer(axum::middleware::from_fn(middleware::refuse_large_bodies))
        .layer(axum::middleware::from_fn(rate_limit::add_headers))
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
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tasks = state.publisher.tasks.clone();
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
    use crate::ayrshare::{AyrshareClient, AyrshareSettings};
    use crate::publishing::PublishingSettings;
    use crate::store::{PoolSettings, SqliteStore};
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    async fn state(sandbox: bool) -> AppState {
        let store = SqliteStore::connect(
            "sqlite::memory:",
            PoolSettings::default(),
            crate::store::Secrets::default(),
        )
        .await
        .unwrap();
        let settings = AyrshareSettings::new(
            "http://127.0.0.1:9/api".parse().unwrap(),
            SecretString::from("unused"),
            Duration::from_secs(1),
        );
        let store: crate::store::DynStore = Arc::new(store);
        let ayrshare = Arc::new(AyrshareClient::new(settings).unwrap());
        AppState {
            connections: crate::connections::Connections::new(
                store.clone(),
                ayrshare.clone(),
                TaskTracker::new(),
                Default::default(),
            ),
            events: crate::events::Events::new(
                store.clone(),
                crate::events::EventSettings {
                    retention: Duration::from_secs(86_400),
                    webhooks: Default::default(),
                },
            ),
            publisher: Publisher {
                store,
                ayrshare,
                tasks: TaskTracker::new(),
                grace_over: CancellationToken::new(),
                settings: Arc::new(PublishingSettings {
                    ayrshare_timeout: Duration::from_secs(1),
                    idempotency_retention: Duration::from_secs(86_400),
                    reconcile: Default::default(),
                    webhook: Default::default(),
                }),
                key_usage: Arc::default(),
                lookups: Arc::default(),
            },
            sandbox,
            key_rate_limit: Arc::new(rate_limit::KeyRateLimit::disabled()),
            metrics_on_main: true,
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
