//! Making room at the connection cap: every open connection without a request in service is
//! ranked, idle keep-alive ones first (the longest idle first), then those still waiting for a
//! complete head: silent new sockets and slow heads alike, the oldest first. A new connection
//! at the cap closes the first one.
//!
//! Without it, the cap let 512 silent sockets (or slow heads) hold the whole service, the
//! liveness probe included, until their timeouts. A new connection and a slowloris are ranked
//! together by age because they look the same until a head is complete: the newest (a probe
//! whose bytes are still on their way) is always the last to go.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::activity::Activity;

/// Which connections go first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    /// Between keep-alive requests: its client has had its answers and can open another.
    Idle,
    /// No complete head yet: a connection without its first request (silent, or sending), or a
    /// keep-alive one with its next head arriving.
    Waiting,
}

/// A connection's place in the order: its rank, since when it has been there, and its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RankKey {
    rank: Rank,
    since: Instant,
    id: u64,
}

impl RankKey {
    pub(super) fn new(rank: Rank, since: Instant, id: u64) -> RankKey {
        RankKey { rank, since, id }
    }
}

/// Every connection that may be evicted, in order.
#[derive(Default)]
pub(super) struct Registry {
    order: Mutex<BTreeMap<RankKey, Weak<Activity>>>,
    next_id: AtomicU64,
    /// Signalled when a connection may have become evictable.
    pub(super) evictable: Notify,
}

impl Registry {
    pub(super) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Moves a connection from `old` to `new` (`None`: not in the order).
    pub(super) fn reorder(&self, old: Option<RankKey>, new: Option<RankKey>, who: &Weak<Activity>) {
        let mut order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = old {
            order.remove(&old);
        }
        if let Some(new) = new {
            order.insert(new, who.clone());
            drop(order);
            self.evictable.notify_one();
        }
    }

    /// Chooses the first connection in the order to close; false when none may be.
    pub(super) fn evict_one(&self) -> bool {
        loop {
            // Not held while the connection is asked: it takes its own lock, then this one.
            let first = self
                .order
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_first();
            let Some((key, who)) = first else {
                return false;
            };
            // It may have moved since (a request started): then it is no longer at `key`.
            if who
                .upgrade()
                .is_some_and(|activity| activity.evict_if_at(key))
            {
                return true;
            }
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.order.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn idle_kept_alive_connections_go_first_then_the_oldest_waiting_and_never_one_in_service() {
        let registry = Arc::new(Registry::default());
        let silent = Activity::open(registry.clone());
        let slow_head = Activity::open(registry.clone());
        let kept_alive = Activity::open(registry.clone());
        let busy = Activity::open(registry.clone());
        slow_head.bytes_arrived();
        drop(kept_alive.request_started(false));
        let _in_service = busy.request_started(true);
        assert_eq!(registry.len(), 3);

        assert!(registry.evict_one());
        assert!(
            kept_alive.evicted.is_cancelled(),
            "the idle kept-alive one first"
        );
        assert!(registry.evict_one());
        assert!(silent.evicted.is_cancelled(), "then the oldest waiting one");
        assert!(!slow_head.evicted.is_cancelled());
        assert!(registry.evict_one());
        assert!(slow_head.evicted.is_cancelled());
        assert!(!registry.evict_one(), "never one with a request in service");
        assert!(!busy.evicted.is_cancelled());
        // A closed connection leaves the order, and an evicted one never comes back.
        let closed = Activity::open(registry.clone());
        closed.close();
        drop(slow_head.request_started(false));
        assert_eq!(registry.len(), 0);
    }
}
