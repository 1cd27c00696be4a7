//! Serving HTTP/1.1 connections at a bounded cost: a cap on open connections that evicts the
//! least useful one to admit a new one (`eviction`), a deadline for the first request and for
//! every request head, an idle keep-alive timeout, a minimum rate for request bodies (`body`),
//! the contract's JSON for requests hyper cannot parse (`socket`), and a graceful shutdown with
//! a deadline after which connections that are not being answered are dropped.
//!
//! `axum::serve` has none of these: an idle connection was kept forever, and a request whose
//! head never finished held a file descriptor (and a graceful shutdown) indefinitely.
//!
//! Only HTTP/1.1 is served: every bound here is an HTTP/1 one (hyper has no head timeout for
//! HTTP/2), and an HTTP/2 connection would multiplex requests past the connection cap. A proxy
//! or load balancer in front terminates HTTP/2 as usual.

mod activity;
mod body;
mod eviction;
mod socket;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use hyper::body::{Body as HttpBody, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use activity::Activity;
pub use body::SlowBody;
use body::{ArrivingBody, SendingBody};
use eviction::Registry;
use socket::Watched;

/// `HTTP_HEADER_READ_TIMEOUT_SECS` by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `HTTP_FIRST_REQUEST_TIMEOUT_SECS` by default: a client that opens a connection sends its
/// request at once; one that does not is holding a slot.
pub const DEFAULT_FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// `HTTP_MIN_BODY_BYTES_PER_SEC` by default: a 1 MiB body may take 17 minutes (past the request
/// timeout), a typical 2 KB create body never comes near it, and a trickled one is cut within
/// seconds.
pub const DEFAULT_MIN_BODY_RATE: u64 = 1024;
/// `HTTP_IDLE_TIMEOUT_SECS` by default: longer than the 60 s idle timeout of the usual load
/// balancers and proxies, so that they close an idle connection first and never send a request
/// on one this server is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// `HTTP_MAX_CONNECTIONS` by default: well below the common limit of 1,024 open files, leaving
/// room for the database pool and the Ayrshare client; a few hundred concurrent callers are
/// what two cores can answer.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// `SHUTDOWN_GRACE_SECS` by default.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The most a request head (request line and headers) may take; past it the answer is 431
/// `request_head_too_large` and the connection is closed. Eight times the usual proxy default.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The bounds on connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the first byte of a request to the end of its head; past it the connection is
    /// closed without an answer. Also the grace a request body has before `min_body_rate`
    /// counts.
    pub header_read_timeout: Duration,
    /// From accepting a connection to the end of its first request's head; past it the
    /// connection is closed without an answer.
    pub first_request_timeout: Duration,
    /// How long a connection may stay silent while no request is being handled (before the
    /// first request, and between requests); past it the connection is closed.
    pub idle_timeout: Duration,
    /// How many connections may be open at once. A new connection past it closes an idle one
    /// (the longest idle first), else one still sending its head (the oldest first); with
    /// every connection busy with a request, it waits until one is done.
    pub max_connections: usize,
    /// The slowest a request body may arrive, in bytes a second on average, once it has had
    /// `header_read_timeout`; a slower one is cut and answered 408. 0: no minimum.
    pub min_body_rate: u64,
    /// After the shutdown signal, how long connections have to finish; then those whose request
    /// is not being handled (idle, or with a head or body still arriving) are dropped, while
    /// requests being handled still finish.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            first_request_timeout: DEFAULT_FIRST_REQUEST_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            min_body_rate: DEFAULT_MIN_BODY_RATE,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets every connection finish its request in flight, and returns once all are
/// closed (see `ConnectionLimits::shutdown_grace`).
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let registry = Arc::new(Registry::default());
    let draining = CancellationToken::new();
    let deadline = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        // Always accepting, so that a new connection (a health probe, say) is never left in
        // the accept queue behind connections that are doing nothing.
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match make_room(&slots, &registry, shutdown.as_mut()).await {
                Some(permit) => permit,
                None => break,
            },
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            stream,
            router.clone(),
            limits,
            Signals {
                draining: draining.clone(),
                deadline: deadline.clone(),
            },
            Activity::open(registry.clone()),
            permit,
        ));
    }
    drop(listener);
    draining.cancel();
    connections.close();
    if tokio::time::timeout(limits.shutdown_grace, connections.wait())
        .await
        .is_err()
    {
        tracing::info!(
            open = connections.len(),
            "shutdown deadline passed: dropping connections without a request being answered"
        );
        deadline.cancel();
        connections.wait().await;
    }
    Ok(())
}

/// At the cap: closes the connection that matters least (see `eviction`) and waits for its
/// slot. With every connection busy with a request, waits until one closes or becomes
/// evictable. `None` if `shutdown` completes meanwhile.
async fn make_room<F: Future<Output = ()>>(
    slots: &Arc<Semaphore>,
    registry: &Registry,
    mut shutdown: Pin<&mut F>,
) -> Option<OwnedSemaphorePermit> {
    let mut evicted = false;
    loop {
        if !evicted {
            evicted = registry.evict_one();
        }
        tokio::select! {
            biased;
            () = shutdown.as_mut() => return None,
            permit = slots.clone().acquire_owned() => return permit.ok(),
            () = registry.evictable.notified(), if !evicted => {}
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The shutdown's two steps, as every connection sees them.
struct Signals {
    /// Finish the request in flight, then close.
    draining: CancellationToken,
    /// Close now unless a request is being answered.
    deadline: CancellationToken,
}

/// Serves one connection until it closes, or until one of `limits` or `signals` closes it.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    signals: Signals,
    activity: Arc<Activity>,
    _slot: OwnedSemaphorePermit,
) {
    let _registered = Registered(activity.clone());
    let io = TokioIo::new(Watched::new(stream, activity.clone()));
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let receiving = !request.body().is_end_stream();
            let request_guard = activity.request_started(receiving);
            let (mut parts, inner) = request.into_parts();
            let (body, slow) = ArrivingBody::new(
                inner,
                receiving.then(|| activity.clone()),
                limits.min_body_rate,
                limits.header_read_timeout,
            );
            if let Some(slow) = slow {
                parts.extensions.insert(slow);
            }
            let request = hyper::Request::from_parts(parts, Body::new(body));
            let router = router.clone();
            let activity = activity.clone();
            async move {
                let response: Result<Response, Infallible> = router.oneshot(request).await;
                // Open before the request ends, so that the connection is never quiet while
                // hyper still has this response to write.
                let response =
                    response.map(|r| r.map(|body| Body::new(SendingBody::new(body, &activity))));
                drop(request_guard);
                response
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // A backstop only: hyper's timer starts when it waits for a head, idle time included;
        // the finer rules below close a connection first.
        .header_read_timeout(limits.idle_timeout + limits.header_read_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        // hyper's read buffer per connection (400 KB by default), which the head must fit in.
        .max_buf_size(2 * MAX_HEAD_BYTES)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    // Whether the connection is to close after the request in flight.
    let mut closing = false;
    loop {
        let wake = activity.next_check(&limits);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                if activity.expired(&limits) {
                    tracing::debug!("closing a connection: silent too long, or its head too slow");
                    return;
                }
            }
            () = activity.changed.notified() => {
                if !closing && activity.closing() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = signals.draining.cancelled(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.evicted.cancelled() => {
                tracing::debug!("closing a connection to make room for a new one");
                break;
            }
            () = signals.deadline.cancelled() => break,
        }
    }
    // Closing now. A request that has fully arrived (at the shutdown deadline, or in the moment
    // the connection was chosen to make room) is answered first.
    if activity.answering() {
        // Both signals may arrive at once (a grace of 0): close after this answer.
        if !closing {
            connection.as_mut().graceful_shutdown();
        }
        // Bounded by the request timeout layer; its tracking work is on the application's task
        // tracker either way.
        let _ = connection.as_mut().await;
    }
}

/// Takes the connection out of the eviction order when it closes, however it does.
struct Registered(Arc<Activity>);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.close();
    }
}
