//! A mock Ayrshare server: simulates Ayrshare's API so clients can be tested without it.
//!
//! It serves Ayrshare's post routes (`/api/post`, retry, validate, history, analytics), profiles
//! (`/api/profiles`, `/api/user`, linking through `generateJWT` and a page of its own under
//! `/link/`), comments and webhooks, plus its own control routes under `/mock/` for test suites
//! (reset, the request journal, the clock, faults that stay). It checks requests the way Ayrshare
//! does (idempotency keys and the rate limit included), remembers everything in bounded memory,
//! publishes scheduled posts on time with signed webhooks, and simulates failures and answer
//! forms on demand through scenarios (an `X-Mock-Scenario` header or a `[mock:<name>]` marker in
//! the text).
//! `docs/mock-ayrshare.md` is the user documentation; [`cli`] holds the flags of the
//! `mock-ayrshare` binary for programs that embed the mock as a subcommand.

mod accounts;
mod admin;
mod analytics;
pub mod cli;
mod comments;
mod faults;
mod handlers;
mod hooks;
mod journal;
mod linking;
mod platforms;
mod post;
mod profile;
mod profile_routes;
mod reply;
mod scenario;
mod store;
mod validate;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{delete, get, post, put};
use chrono::{DateTime, TimeDelta, Utc};
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Notify;
use tower::ServiceExt;

use self::journal::{ConnectionDrop, Journal};
pub use self::reply::DEFAULT_RATE_LIMIT_MAX;
use self::store::{Clock, Store};
pub use self::webhook::WebhookTarget;

/// The most `POST /mock/clock` may advance the clock in all: 1,000 years.
const MAX_CLOCK_ADVANCE_MILLIS: i64 = 1_000 * 366 * 86_400 * 1_000;

/// The longest the publishing timer sleeps between looks at the due posts.
const PUBLISHER_MAX_WAIT: Duration = Duration::from_secs(1);

/// Settings of the simulator.
#[derive(Clone)]
pub struct MockConfig {
    /// `Some(key)`: only `Authorization: Bearer <key>` is accepted.
    /// `None`: any non-empty bearer key is accepted.
    pub api_key: Option<String>,
    /// The most posts remembered at once (all profiles together). A new post beyond it makes
    /// the mock forget the oldest settled post (published, failed or deleted), or the oldest
    /// pending one when every remembered post is pending; a forgotten id answers 404.
    /// `0` counts as 1: the new post itself is always remembered. Default: 10,000. Also bounds
    /// the remembered `idempotencyKey`s the same way (oldest forgotten first).
    pub max_posts: usize,
    /// Answer `POST /api/post` requests that carry a `Profile-Key` in Ayrshare's wrapped form
    /// (`{"status", "posts": [...]}`), as Ayrshare's "post to a user profile" page shows.
    /// A profile's own setting (`PUT /mock/profiles/{profile_key}`) and the `wrapped` /
    /// `unwrapped` scenarios win over it. Default: `false`.
    pub wrap_profile_answers: bool,
    /// Where the signed `scheduled` webhooks go for profiles that registered none (and whose
    /// Primary Profile registered none) with `POST /api/hook/webhook`. Default: none.
    pub webhook: Option<WebhookTarget>,
    /// Requests each profile may make per 5-minute window; past it the mock answers 429 with
    /// `Retry-After` (the rest of the window). `0` turns the limit and the `x-ratelimit-*`
    /// headers off. Default: 300, Ayrshare's figure.
    pub rate_limit_max: u64,
    /// Benchmark mode: answer at once and remember nothing (no posts, no idempotency keys, no
    /// rate counts). Default: `false`.
    pub forget: bool,
    /// The `privateKey` `POST /api/profiles/generateJWT` accepts; `None`: any non-empty one.
    /// Default: `None`.
    pub link_private_key: Option<String>,
}

/// The default of [`MockConfig::max_posts`] (also the CLI's `--max-posts` default).
pub const DEFAULT_MAX_POSTS: usize = 10_000;

impl Default for MockConfig {
    fn default() -> MockConfig {
        MockConfig {
            api_key: None,
            max_posts: DEFAULT_MAX_POSTS,
            wrap_profile_answers: false,
            webhook: None,
            rate_limit_max: DEFAULT_RATE_LIMIT_MAX,
            forget: false,
            link_private_key: None,
        }
    }
}

// By hand, so that the accepted key never lands in a log line.
impl std::fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("max_posts", &self.max_posts)
            .field("wrap_profile_answers", &self.wrap_profile_answers)
            .field("webhook", &self.webhook)
            .field("rate_limit_max", &self.rate_limit_max)
            .field("forget", &self.forget)
            .field(
                "link_private_key",
                &self.link_private_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// The simulator's router, serving Ayrshare's routes under `/api` and its own under `/mock`.
///
/// Remembered posts live inside the router: clones of it share them, at most
/// [`MockConfig::max_posts`] of them at once, and they are lost when the last clone is dropped.
/// Scheduled posts are due by the system clock. Without [`serve`]'s timer they are published
/// when the next request looks at them (their webhooks then go out too).
pub fn router(config: MockConfig) -> Router {
    routes(AppState::new(config, Arc::new(Utc::now)))
}

/// Serves the simulator on `listener` until `shutdown` completes, then finishes open requests.
/// A timer publishes scheduled posts at their time and sends their webhooks, with or without
/// requests.
///
/// Connections are served here rather than by `axum::serve` so that the `lost` scenario can drop
/// one without answering.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: MockConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "mock ayrshare listening; base url http://{addr}/api");
    }
    let state = AppState::new(config, Arc::new(Utc::now));
    let publisher = tokio::spawn(publish_on_time(state.clone()));
    let app = routes(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "mock ayrshare could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let drop_it = ConnectionDrop::default();
        let service = {
            let app = app.clone();
            let drop_it = drop_it.clone();
            hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(drop_it.clone());
                app.clone().oneshot(request.map(Body::new))
            })
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                served = connection => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "mock ayrshare connection ended with an error");
                    }
                }
                // Dropping the connection closes it without an answer (`lost`).
                () = drop_it.0.notified() => {}
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    publisher.abort();
    Ok(())
}

/// The publishing timer: publishes each post when it falls due, sleeping until the next one is
/// due (at most [`PUBLISHER_MAX_WAIT`]) or a request adds one.
async fn publish_on_time(state: AppState) {
    loop {
        let now = state.now();
        let next_due = {
            let mut store = state.store();
            store.publish_due(now);
            store.next_due()
        };
        let wait = next_due
            .and_then(|due| (due - now).to_std().ok())
            .map_or(PUBLISHER_MAX_WAIT, |wait| wait.min(PUBLISHER_MAX_WAIT));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = state.wake.notified() => {}
        }
    }
}

/// The routes over `state`, whose clock tests inject to move time forward.
fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/post",
            post(handlers::create_post)
                .delete(handlers::delete_post)
                .patch(handlers::update_post)
                .put(handlers::update_post),
        )
        .route("/api/post/retry", put(handlers::retry_post))
        .route("/api/validate/post", post(handlers::validate_post))
        .route(
            "/api/profiles",
            post(profile_routes::create).get(profile_routes::list),
        )
        .route("/api/profiles/profile", post(profile_routes::create))
        .route("/api/profiles/create-profile", post(profile_routes::create))
        .route("/api/profiles/social", delete(profile_routes::unlink))
        .route("/api/profiles/generateJWT", post(linking::generate))
        .route("/api/user", get(profile_routes::user))
        .route(
            "/api/comments",
            post(comments::create).get(comments::list_by_query),
        )
        .route("/api/comments/reply", post(comments::reply))
        .route(
            "/api/comments/{id}",
            get(comments::list).delete(comments::delete),
        )
        .route("/link/{token}", get(linking::page).post(linking::submit))
        .route("/api/analytics/post", post(handlers::post_analytics))
        .route("/api/delete", delete(handlers::delete_post))
        .route("/api/post/{id}", get(handlers::get_post))
        .route("/api/history", get(handlers::list_history))
        .route("/api/history/{id}", get(handlers::get_post))
        .route(
            "/api/hook/webhook",
            post(hooks::register)
                .delete(hooks::unregister)
                .get(hooks::list),
        )
        .route("/mock/stats", get(admin::stats))
        .route("/mock/health", get(admin::health))
        .route("/mock/reset", post(admin::reset))
        .route("/mock/requests", get(admin::requests))
        .route(
            "/mock/clock",
            post(admin::advance_clock).get(admin::get_clock),
        )
        .route(
            "/mock/profiles/{profile_key}",
            put(admin::put_profile).get(admin::get_profile),
        )
        .route(
            "/mock/profiles/{profile_key}/faults/{platform}",
            put(admin::put_fault).delete(admin::delete_fault),
        )
        .route(
            "/mock/profiles/{profile_key}/drop/{platform}",
            post(admin::drop_account),
        )
        .route("/mock/comments/{id}", post(comments::seed))
        .fallback(handlers::route_not_found)
        // Must follow the routes: it only reaches routes that already exist.
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::rate_limit,
        ))
        // Outermost: the journal sees every request, the refused ones too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            journal::record_and_deliver,
        ))
        .with_state(state)
}

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    config: Arc<MockConfig>,
    store: Arc<Mutex<Store>>,
    clock: Clock,
    webhooks: Arc<webhook::Sender>,
    /// Wakes the publishing timer when a post may fall due sooner than it planned.
    wake: Arc<Notify>,
    /// `POST /api/post` requests whose key was accepted, remembered or not: what a benchmark
    /// compares with the records its client wrote (`GET /mock/stats`).
    posts_received: Arc<AtomicU64>,
    /// How far `POST /mock/clock` moved the clock, in milliseconds.
    clock_offset: Arc<AtomicI64>,
    /// Every request received (`GET /mock/requests`).
    journal: Arc<Mutex<Journal>>,
}

impl AppState {
    fn new(config: MockConfig, clock: Clock) -> AppState {
        AppState::with_retry_delays(config, clock, webhook::RETRY_DELAYS.to_vec())
    }

    /// As [`AppState::new`], waiting `retry_delays` between webhook attempts.
    fn with_retry_delays(
        config: MockConfig,
        clock: Clock,
        retry_delays: Vec<Duration>,
    ) -> AppState {
        let store = Store::new(StdRng::from_os_rng(), config.max_posts, clock());
        AppState {
            config: Arc::new(config),
            store: Arc::new(Mutex::new(store)),
            // The signature timestamp is the real time of the delivery, whatever the mock's
            // clock says, so that receivers checking freshness accept it.
            webhooks: Arc::new(webhook::Sender::new(Arc::clone(&clock), retry_delays)),
            clock,
            wake: Arc::new(Notify::new()),
            posts_received: Arc::default(),
            clock_offset: Arc::default(),
            journal: Arc::default(),
        }
    }

    /// The mock's time: its clock, plus what `POST /mock/clock` added.
    fn now(&self) -> DateTime<Utc> {
        (self.clock)() + TimeDelta::milliseconds(self.clock_offset_millis())
    }

    fn clock_offset_millis(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    /// Moves the mock's clock `millis` forward; `false` (and unmoved) past
    /// [`MAX_CLOCK_ADVANCE_MILLIS`] in all, so that the time stays far from chrono's limits.
    fn advance_clock(&self, millis: i64) -> bool {
        self.clock_offset
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                offset
                    .checked_add(millis)
                    .filter(|total| *total <= MAX_CLOCK_ADVANCE_MILLIS)
            })
            .is_ok()
    }

    /// Forgets everything: as freshly started (webhooks already under way still go out).
    fn reset(&self) {
        self.clock_offset.store(0, Ordering::Relaxed);
        self.posts_received.store(0, Ordering::Relaxed);
        let fresh = Store::new(StdRng::from_os_rng(), self.config.max_posts, self.now());
        *self.store() = fresh;
        self.journal().clear(None);
    }

    /// The request journal, locked.
    fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The mock's memory, locked. When the guard is dropped, posts published meanwhile outside
    /// their creating request are handed to the webhook sender.
    fn store(&self) -> StoreGuard<'_> {
        // A panic in one request must not take the whole mock down with a poisoned lock.
        let guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        StoreGuard { guard, state: self }
    }
}

/// The locked store; announces what was published when dropped.
struct StoreGuard<'a> {
    guard: MutexGuard<'a, Store>,
    state: &'a AppState,
}

impl Deref for StoreGuard<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.guard
    }
}

impl DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.guard
    }
}

impl Drop for StoreGuard<'_> {
    /// Sends the `social` webhook of every link and unlink, and the `scheduled` webhook of every
    /// post published, while the store was locked: to the profile's webhook for that action,
    /// else the Primary Profile's, else [`MockConfig::webhook`].
    fn drop(&mut self) {
        for event in self.guard.take_social() {
            let target = self
                .guard
                .hook_for(&event.profile, "social")
                .cloned()
                .or_else(|| self.state.config.webhook.clone());
            let Some(target) = target else {
                continue;
            };
            let hook_id = self.guard.new_hook_id();
            let body = webhook::social_payload(&event, &target.url, &hook_id);
            self.state
                .webhooks
                .deliver(target, body, event.account.platform.name());
        }
        for published in self.guard.take_published() {
            let target = self
                .guard
                .hook_for(&published.post.profile, "scheduled")
                .cloned()
                .or_else(|| self.state.config.webhook.clone());
            let Some(target) = target else {
                continue;
            };
            let hook_id = self.guard.new_hook_id();
            let body = webhook::payload(&published, &target.url, &hook_id);
            self.state
                .webhooks
                .deliver(target, body, &published.post.id);
        }
    }
}
