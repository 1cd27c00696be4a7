//! The bodies between hyper and the router: a request body that tells its connection when it
//! has arrived and is cut when it arrives too slowly, and a response body that tells it when
//! hyper is done writing it.

use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::activity::{Activity, ResponseGuard};

type BoxError = Box<dyn Error + Send + Sync>;

/// On a request whose body is still arriving: whether the server cut it for arriving more
/// slowly than `min_rate`. The router answers such a request 408, whatever a handler made of
/// the cut body.
#[derive(Clone, Debug)]
pub struct SlowBody {
    cut: Arc<AtomicBool>,
    /// `HTTP_MIN_BODY_BYTES_PER_SEC`.
    pub min_rate: u64,
}

impl SlowBody {
    /// Whether the body was cut.
    pub fn was_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }
}

/// The error a cut body ends with.
#[derive(Debug)]
struct BodyTooSlow;

impl fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request body arrived too slowly")
    }
}

impl Error for BodyTooSlow {}

/// The minimum rate a body is held to: after `grace`, on average at least `min_rate` bytes a
/// second since it was first read. Counting from the first read, not from the head, leaves
/// out the time a handler takes before it reads (and a client waiting for `100 Continue`).
struct Pace {
    min_rate: u64,
    grace: Duration,
    started: Option<Instant>,
    received: u64,
    timer: Pin<Box<Sleep>>,
    slow: SlowBody,
}

impl Pace {
    /// When the body falls behind unless more arrives.
    fn due(&self, started: Instant) -> Instant {
        let allowed = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        started + self.grace + allowed
    }

    /// Whether the body is behind, having waited for more (the timer wakes the reader).
    fn behind(&mut self, cx: &mut Context<'_>) -> bool {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = self.due(started);
        if self.timer.deadline() != due {
            self.timer.as_mut().reset(due);
        }
        self.timer.as_mut().poll(cx).is_ready()
    }
}

/// A request body that tells its connection when it has fully arrived (or was given up), and
/// ends with an error when it arrives more slowly than the minimum rate.
pub(super) struct ArrivingBody {
    inner: Incoming,
    activity: Option<Arc<Activity>>,
    pace: Option<Pace>,
    cut: bool,
}

impl ArrivingBody {
    /// `inner`, reported to `activity` if it is still to arrive, and paced at `min_rate` bytes
    /// a second after `grace` (0: not paced). The `SlowBody` is for the request's extensions.
    pub(super) fn new(
        inner: Incoming,
        activity: Option<Arc<Activity>>,
        min_rate: u64,
        grace: Duration,
    ) -> (ArrivingBody, Option<SlowBody>) {
        let pace = (activity.is_some() && min_rate > 0).then(|| Pace {
            min_rate,
            grace,
            started: None,
            received: 0,
            // Set on the first wait.
            timer: Box::pin(tokio::time::sleep(grace)),
            slow: SlowBody {
                cut: Arc::default(),
                min_rate,
            },
        });
        let slow = pace.as_ref().map(|pace| pace.slow.clone());
        let body = ArrivingBody {
            inner,
            activity,
            pace,
            cut: false,
        };
        (body, slow)
    }

    fn finish(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.body_received();
        }
    }

    fn cut_short(&mut self) {
        self.cut = true;
        if let Some(pace) = &self.pace {
            pace.slow.cut.store(true, Ordering::Relaxed);
        }
        if let Some(activity) = &self.activity {
            activity.body_cut();
        }
        self.finish();
    }
}

impl HttpBody for ArrivingBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.cut {
            return Poll::Ready(Some(Err(BodyTooSlow.into())));
        }
        if let Some(pace) = &mut this.pace {
            pace.started.get_or_insert_with(Instant::now);
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(pace), Some(data)) = (&mut this.pace, frame.data_ref()) {
                    pace.received += data.len() as u64;
                }
            }
            Poll::Pending => {
                if this.pace.as_mut().is_some_and(|pace| pace.behind(cx)) {
                    this.cut_short();
                    return Poll::Ready(Some(Err(BodyTooSlow.into())));
                }
            }
            Poll::Ready(_) => {}
        }
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || this.inner.is_end_stream() {
            this.finish();
        }
        polled.map(|frame| frame.map(|result| result.map_err(BoxError::from)))
    }

    fn is_end_stream(&self) -> bool {
        // Not when cut: a reader must poll once more and see the error.
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

/// A response body that counts as open on its connection until hyper drops it.
pub(super) struct SendingBody {
    inner: Body,
    _open: ResponseGuard,
}

impl SendingBody {
    pub(super) fn new(inner: Body, activity: &Arc<Activity>) -> SendingBody {
        SendingBody {
            inner,
            _open: activity.response_opened(),
        }
    }
}

impl HttpBody for SendingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
