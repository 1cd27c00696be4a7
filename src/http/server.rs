//! Serving HTTP/1.1 connections at a bounded cost: a cap on open connections, a deadline for a
//! request head, an idle keep-alive timeout, and a graceful shutdown with a deadline after
//! which connections that are not being answered are dropped.
//!
//! `axum::serve` has none of these: an idle connection was kept forever, and a request whose
//! head never finished held a file descriptor (and a graceful shutdown) indefinitely.
//!
//! Only HTTP/1.1 is served: every bound here is an HTTP/1 one (hyper has no head timeout for
//! HTTP/2), and an HTTP/2 connection would multiplex requests past the connection cap. A proxy
//! or load balancer in front terminates HTTP/2 as usual.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// `HTTP_HEADER_READ_TIMEOUT_SECS` by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
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
/// The most a request head (request line and headers) may take; past it hyper answers 431 and
/// closes the connection. Eight times the usual proxy default.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The bounds on connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the first byte of a request to the end of its head; past it the connection is
    /// closed without an answer.
    pub header_read_timeout: Duration,
    /// How long a connection may stay silent while no request is being handled (before the
    /// first request, and between requests); past it the connection is closed.
    pub idle_timeout: Duration,
    /// How many connections may be open at once; past it new connections wait in the kernel's
    /// accept queue until one closes.
    pub max_connections: usize,
    /// After the shutdown signal, how long connections have to finish; then those whose request
    /// is not being handled (idle, or with a head or body still arriving) are dropped, while
    /// requests being handled still finish.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
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
    let draining = CancellationToken::new();
    let deadline = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        // A slot first: at the cap, new connections wait in the accept queue, costing nothing
        // here, until a connection closes.
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
        };
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
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            stream,
            router.clone(),
            limits,
            Signals {
                draining: draining.clone(),
                deadline: deadline.clone(),
            },
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
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let receiving = !request.body().is_end_stream();
            let request_guard = activity.request_started(receiving);
            let request = request.map(|inner| {
                Body::new(ArrivingBody {
                    inner,
                    activity: receiving.then(|| activity.clone()),
                })
            });
            let router = router.clone();
            async move {
                let response: Result<Response, Infallible> = router.oneshot(request).await;
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
    let mut draining = false;
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
            () = activity.changed.notified() => {}
            () = signals.draining.cancelled(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            () = signals.deadline.cancelled() => {
                if activity.answering() {
                    // Both signals may arrive at once (a grace of 0): close after this answer.
                    if !draining {
                        connection.as_mut().graceful_shutdown();
                    }
                    // Bounded by the request timeout layer; its tracking work is on the
                    // application's task tracker either way.
                    let _ = connection.as_mut().await;
                }
                return;
            }
        }
    }
}

/// What a connection is doing, as far as its bounds are concerned.
struct Activity {
    state: Mutex<ActivityState>,
    /// Signalled when a deadline may have moved earlier (a head started, a request ended).
    changed: Notify,
}

struct ActivityState {
    /// Requests handed to the router and not answered yet (at most one on HTTP/1.1).
    in_service: usize,
    /// Of those, how many are still receiving their body.
    receiving: usize,
    /// Since when the connection has waited for a request: it opened, or its last answer left.
    waiting_since: Instant,
    /// When the first byte of the next request arrived, while waiting.
    head_started: Option<Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            state: Mutex::new(ActivityState {
                in_service: 0,
                receiving: 0,
                waiting_since: Instant::now(),
                head_started: None,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, ActivityState> {
        // The state stays consistent even if a holder panicked: every update is one statement.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bytes_arrived(&self) {
        let mut state = self.state();
        if state.in_service == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>, receiving: bool) -> RequestGuard {
        let mut state = self.state();
        state.in_service += 1;
        state.receiving += usize::from(receiving);
        state.head_started = None;
        RequestGuard {
            activity: self.clone(),
        }
    }

    fn body_received(&self) {
        let mut state = self.state();
        state.receiving = state.receiving.saturating_sub(1);
    }

    fn request_ended(&self) {
        let mut state = self.state();
        state.in_service = state.in_service.saturating_sub(1);
        if state.in_service == 0 {
            state.waiting_since = Instant::now();
            state.head_started = None;
        }
        drop(state);
        self.changed.notify_one();
    }

    /// Whether a request has fully arrived and is being handled.
    fn answering(&self) -> bool {
        let state = self.state();
        state.in_service > state.receiving
    }

    /// When to look at the connection again.
    fn next_check(&self, limits: &ConnectionLimits) -> Instant {
        let state = self.state();
        if state.in_service > 0 {
            // A request in flight is bounded by the request timeout; its end notifies.
            return Instant::now() + Duration::from_secs(3600);
        }
        match state.head_started {
            Some(started) => started + limits.header_read_timeout,
            None => state.waiting_since + limits.idle_timeout,
        }
    }

    /// Whether the connection has been silent, or has been sending its head, for too long.
    fn expired(&self, limits: &ConnectionLimits) -> bool {
        let state = self.state();
        let now = Instant::now();
        state.in_service == 0
            && match state.head_started {
                Some(started) => now >= started + limits.header_read_timeout,
                None => now >= state.waiting_since + limits.idle_timeout,
            }
    }
}

/// Marks the end of a request's handling when dropped (answered, or the connection dropped).
struct RequestGuard {
    activity: Arc<Activity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.activity.request_ended();
    }
}

/// The connection's socket, noting when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that tells its connection when it has fully arrived (or was given up).
struct ArrivingBody {
    inner: Incoming,
    activity: Option<Arc<Activity>>,
}

impl ArrivingBody {
    fn finish(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.body_received();
        }
    }
}

impl HttpBody for ArrivingBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || self.inner.is_end_stream() {
            self.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ArrivingBody {
    fn drop(&mut self) {
        self.finish();
    }
}
