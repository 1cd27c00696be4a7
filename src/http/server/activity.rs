//! What one connection is doing, as far as its bounds are concerned: when it opened, whether a
//! head is arriving, a request is in service or a response is still being written, and so when
//! it must be closed and how far back it stands in the eviction order.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ConnectionLimits;
use super::eviction::{Rank, RankKey, Registry};

/// One connection's activity, shared by its socket, its service, its bodies and its task.
pub(super) struct Activity {
    id: u64,
    /// This activity itself, for the registry's entry.
    me: Weak<Activity>,
    registry: Arc<Registry>,
    state: Mutex<ActivityState>,
    /// Signalled when a deadline may have moved earlier (a head started, a request ended), or
    /// the connection is to close after its answer.
    pub(super) changed: Notify,
    /// Cancelled when the connection is chosen to make room at the cap.
    pub(super) evicted: CancellationToken,
}

struct ActivityState {
    /// When the connection was accepted.
    opened: Instant,
    /// Requests handed to the router so far.
    requests: u64,
    /// Requests handed to the router and not answered yet (at most one on HTTP/1.1).
    in_service: usize,
    /// Of those, how many are still receiving their body.
    receiving: usize,
    /// Responses handed to hyper whose body hyper has not finished writing (or dropped).
    responses_open: usize,
    /// Whether all of our own bytes have been flushed to the socket since the last request
    /// ended: until the next request, anything hyper writes is its own answer to a request it
    /// could not parse.
    quiet: bool,
    /// Since when the connection has waited for a request: it opened, or its last answer left.
    waiting_since: Instant,
    /// When the first byte of the next request arrived, while waiting.
    head_started: Option<Instant>,
    /// A body was cut for arriving too slowly: close once it is answered.
    closing: bool,
    /// Chosen to make room, or closed: never ranked again.
    retired: bool,
    /// Where the connection stands in the registry's eviction order, if it may be evicted.
    rank: Option<RankKey>,
}

impl Activity {
    /// A connection just accepted, ranked among those that may be evicted.
    pub(super) fn open(registry: Arc<Registry>) -> Arc<Activity> {
        let now = Instant::now();
        let activity = Arc::new_cyclic(|me| Activity {
            id: registry.next_id(),
            me: me.clone(),
            registry,
            state: Mutex::new(ActivityState {
                opened: now,
                requests: 0,
                in_service: 0,
                receiving: 0,
                responses_open: 0,
                quiet: true,
                waiting_since: now,
                head_started: None,
                closing: false,
                retired: false,
                rank: None,
            }),
            changed: Notify::new(),
            evicted: CancellationToken::new(),
        });
        activity.rerank(&mut activity.state());
        activity
    }

    fn state(&self) -> MutexGuard<'_, ActivityState> {
        // The state stays consistent even if a holder panicked: every update is one statement.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves the connection to where its state puts it in the eviction order (see `eviction`);
    /// never one with a request in service.
    fn rerank(&self, state: &mut ActivityState) {
        let wanted = if state.retired || state.in_service > 0 {
            None
        } else if state.requests == 0 {
            Some(RankKey::new(Rank::Waiting, state.opened, self.id))
        } else {
            Some(match state.head_started {
                Some(started) => RankKey::new(Rank::Waiting, started, self.id),
                None => RankKey::new(Rank::Idle, state.waiting_since, self.id),
            })
        };
        if wanted != state.rank {
            self.registry.reorder(state.rank, wanted, &self.me);
            state.rank = wanted;
        }
    }

    /// Bytes arrived on the socket.
    pub(super) fn bytes_arrived(&self) {
        let mut state = self.state();
        if state.in_service == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            self.rerank(&mut state);
            drop(state);
            self.changed.notify_one();
        }
    }

    /// hyper parsed a head and handed the request to the router.
    pub(super) fn request_started(self: &Arc<Self>, receiving: bool) -> RequestGuard {
        let mut state = self.state();
        state.requests += 1;
        state.in_service += 1;
        state.receiving += usize::from(receiving);
        state.head_started = None;
        state.quiet = false;
        self.rerank(&mut state);
        RequestGuard {
            activity: self.clone(),
        }
    }

    pub(super) fn body_received(&self) {
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
        self.rerank(&mut state);
        drop(state);
        self.changed.notify_one();
    }

    /// A response is handed to hyper; it counts as open until the guard is dropped.
    pub(super) fn response_opened(self: &Arc<Self>) -> ResponseGuard {
        self.state().responses_open += 1;
        ResponseGuard {
            activity: self.clone(),
        }
    }

    /// The socket was flushed: if no response of ours is left, hyper has nothing of ours to
    /// write until the next request.
    pub(super) fn flushed(&self) {
        let mut state = self.state();
        if state.in_service == 0 && state.responses_open == 0 {
            state.quiet = true;
        }
    }

    /// Whether whatever hyper writes now is its own answer, not one of ours.
    pub(super) fn is_quiet(&self) -> bool {
        self.state().quiet
    }

    /// A body was cut for arriving too slowly: the connection closes after its answer.
    pub(super) fn body_cut(&self) {
        self.state().closing = true;
        self.changed.notify_one();
    }

    /// Whether the connection is to close after its answer.
    pub(super) fn closing(&self) -> bool {
        self.state().closing
    }

    /// Whether a request has fully arrived and is being handled.
    pub(super) fn answering(&self) -> bool {
        let state = self.state();
        state.in_service > state.receiving
    }

    /// Chooses this connection to make room, if it still stands at `key` (nothing arrived
    /// since it was ranked there).
    pub(super) fn evict_if_at(&self, key: RankKey) -> bool {
        let mut state = self.state();
        if state.rank != Some(key) {
            return false;
        }
        state.retired = true;
        self.rerank(&mut state);
        drop(state);
        self.evicted.cancel();
        true
    }

    /// The connection is closed: out of the eviction order for good.
    pub(super) fn close(&self) {
        let mut state = self.state();
        state.retired = true;
        self.rerank(&mut state);
    }

    /// When the connection must close unless something arrives: the first-request deadline
    /// (until a first request is in), the head deadline (while a head arrives), or the idle
    /// timeout (while waiting). `None` while a request is in service.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let state = self.state();
        if state.in_service > 0 {
            return None;
        }
        let due = match state.head_started {
            Some(started) => started + limits.header_read_timeout,
            None => state.waiting_since + limits.idle_timeout,
        };
        Some(if state.requests == 0 {
            due.min(state.opened + limits.first_request_timeout)
        } else {
            due
        })
    }

    /// When to look at the connection again.
    pub(super) fn next_check(&self, limits: &ConnectionLimits) -> Instant {
        // A request in flight is bounded by the request timeout; its end notifies.
        self.deadline(limits)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    /// Whether the connection has been silent, or sending its head, for too long.
    pub(super) fn expired(&self, limits: &ConnectionLimits) -> bool {
        self.deadline(limits)
            .is_some_and(|due| Instant::now() >= due)
    }
}

/// Marks the end of a request's handling when dropped (answered, or the connection dropped).
pub(super) struct RequestGuard {
    activity: Arc<Activity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.activity.request_ended();
    }
}

/// Marks a response as written (or given up) when dropped, with the response's body.
pub(super) struct ResponseGuard {
    activity: Arc<Activity>,
}

impl Drop for ResponseGuard {
    fn drop(&mut self) {
        let mut state = self.activity.state();
        state.responses_open = state.responses_open.saturating_sub(1);
    }
}
