//! A mock Ayrshare server: simulates Ayrshare's post API so clients can be tested without it.
//!
//! It serves `POST /api/post`, `GET /api/post/{id}`, `PATCH`/`PUT /api/post`, `DELETE /api/post`
//! (and `/api/delete`), `GET /api/history[/{id}]`, `POST /api/analytics/post` and
//! `/api/hook/webhook`, plus its own `/mock/profiles/{profile_key}`. It checks requests the way
//! Ayrshare does (idempotency keys and the rate limit included), remembers posts per profile in
//! bounded memory, publishes scheduled posts on time with signed webhooks, and simulates
//! failures and answer forms on demand through scenarios (an `X-Mock-Scenario` header or a
//! `[mock:<name>]` marker in the post text).
//! `docs/mock-ayrshare.md` is the user documentation; [`cli`] holds the flags of the
//! `mock-ayrshare` binary for programs that embed the mock as a subcommand.

mod admin;
mod analytics;
pub mod cli;
mod handlers;
mod hooks;
mod platforms;
mod post;
mod profile;
mod reply;
mod scenario;
mod store;
mod validate;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post, put};
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Notify;

pub use self::reply::DEFAULT_RATE_LIMIT_MAX;
use self::store::{Clock, Store};
pub use self::webhook::WebhookTarget;

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
    let served = axum::serve(listener, routes(state))
        .with_graceful_shutdown(shutdown)
        .await;
    publisher.abort();
    served
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
        .route(
            "/mock/profiles/{profile_key}",
            put(admin::put_profile).get(admin::get_profile),
        )
        .fallback(handlers::route_not_found)
        // Must follow the routes: it only reaches routes that already exist.
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::rate_limit,
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
        let store = Store::new(StdRng::from_os_rng(), config.max_posts);
        AppState {
            config: Arc::new(config),
            store: Arc::new(Mutex::new(store)),
            webhooks: Arc::new(webhook::Sender::new(Arc::clone(&clock), retry_delays)),
            clock,
            wake: Arc::new(Notify::new()),
            posts_received: Arc::default(),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
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
    /// Sends the `scheduled` webhook of every post published while the store was locked: to the
    /// post's profile's webhook, else the Primary Profile's, else [`MockConfig::webhook`].
    fn drop(&mut self) {
        for published in self.guard.take_published() {
            let target = self
                .guard
                .hook_for(&published.post.profile)
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
