//! A mock Ayrshare server: simulates Ayrshare's post API so clients can be tested without it.
//!
//! It serves `POST /api/post`, `GET /api/post/{id}`, `DELETE /api/post` (and `/api/delete`),
//! `GET /api/history` and `GET /api/history/{id}`, checks requests the way Ayrshare does,
//! remembers posts per profile in bounded memory, and simulates failures on demand through scenarios
//! (an `X-Mock-Scenario` header or a `[mock:<name>]` marker in the post text).
//! `docs/mock-ayrshare.md` is the user documentation; [`cli`] holds the flags of the
//! `mock-ayrshare` binary for programs that embed the mock as a subcommand.

mod admin;
pub mod cli;
mod handlers;
mod platforms;
mod post;
mod profile;
mod reply;
mod scenario;
mod store;
mod validate;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::routing::{delete, get, post, put};
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;

use self::store::{Clock, Published, Store};

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
}

/// The default of [`MockConfig::max_posts`] (also the CLI's `--max-posts` default).
pub const DEFAULT_MAX_POSTS: usize = 10_000;

impl Default for MockConfig {
    fn default() -> MockConfig {
        MockConfig {
            api_key: None,
            max_posts: DEFAULT_MAX_POSTS,
            wrap_profile_answers: false,
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
            .finish()
    }
}

/// The simulator's router, serving Ayrshare's routes under `/api`.
///
/// Remembered posts live inside the router: clones of it share them, at most
/// [`MockConfig::max_posts`] of them at once, and they are lost when the last clone is dropped.
/// Scheduled posts are due by the system clock.
pub fn router(config: MockConfig) -> Router {
    routes(AppState::new(config, Arc::new(Utc::now)))
}

/// Serves the simulator on `listener` until `shutdown` completes, then finishes open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: MockConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "mock ayrshare listening; base url http://{addr}/api");
    }
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The routes over `state`, whose clock tests inject to move time forward.
fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/post",
            post(handlers::create_post).delete(handlers::delete_post),
        )
        .route("/api/delete", delete(handlers::delete_post))
        .route("/api/post/{id}", get(handlers::get_post))
        .route("/api/history", get(handlers::list_history))
        .route("/api/history/{id}", get(handlers::get_post))
        .route(
            "/mock/profiles/{profile_key}",
            put(admin::put_profile).get(admin::get_profile),
        )
        .fallback(handlers::route_not_found)
        // Must follow the routes: it only reaches routes that already exist.
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::rate_limit_headers,
        ))
        .with_state(state)
}

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    config: Arc<MockConfig>,
    store: Arc<Mutex<Store>>,
    clock: Clock,
}

impl AppState {
    fn new(config: MockConfig, clock: Clock) -> AppState {
        let store = Store::new(StdRng::from_os_rng(), config.max_posts);
        AppState {
            config: Arc::new(config),
            store: Arc::new(Mutex::new(store)),
            clock,
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

    /// Hands published posts to the webhook sender.
    fn announce(&self, published: Vec<Published>) {
        drop(published);
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
    fn drop(&mut self) {
        let published = self.guard.take_published();
        if !published.is_empty() {
            self.state.announce(published);
        }
    }
}
