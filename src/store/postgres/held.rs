//! Connections the group-commit writers keep between their writes instead of giving them back
//! to the pool after each one.
//!
//! sqlx checks every connection given back to its pool with a round trip to the server (a
//! `Sync`, in a task of its own), so that one left mid-call never serves another. A create
//! writes twice (the write-ahead insert and the outcome update); alone, each write is its own
//! statement on its own connection, and so each costs a second round trip, a wake-up of a
//! server process and a task here for that check. A connection kept here skips it, but only
//! when its write finished: one whose write failed, or was cut short (a deadline, a dropped
//! future), is dropped instead and goes back through the pool's check as before.
//!
//! A kept connection still belongs to the pool (it counts towards `DATABASE_MAX_CONNECTIONS`
//! and shows as in use), so only a pool of at least `KEEP_FROM_POOL_SIZE` keeps any: a smaller
//! one needs every connection for the reads and the rest. One kept idle for
//! `PING_IF_IDLE_FOR` goes back to the pool (a sweep gives it back even when no write comes),
//! and a write takes one again by the pool's rule (pinged when idle that long), so a database
//! restart is found out as it is for every other connection; and each goes back after
//! `KEEP_AT_MOST` in any case, so that the pool's own rules (lifetime, idle reaping) still
//! apply to it.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPool;

use super::PING_IF_IDLE_FOR;

/// How long one connection is kept before it goes back to the pool all the same.
const KEEP_AT_MOST: Duration = Duration::from_secs(60);

/// The smallest pool whose writers keep connections (the default is 10).
const KEEP_FROM_POOL_SIZE: u32 = 8;

/// One kept connection: when it was taken from the pool and when its last write finished.
struct Kept {
    connection: PoolConnection<Postgres>,
    taken: Instant,
    idle_since: Instant,
}

/// At most `capacity` connections kept for one kind of write, the most recently used first.
pub(super) struct Held {
    pool: PgPool,
    capacity: usize,
    kept: Mutex<Vec<Kept>>,
}

/// A connection lent for one write: give it back with [`Held::finished`].
pub(super) struct Lent {
    pub(super) connection: PoolConnection<Postgres>,
    taken: Instant,
}

impl Held {
    /// Keeps up to `capacity` connections of `pool` (none for a pool smaller than
    /// `KEEP_FROM_POOL_SIZE`), and sweeps out the stale ones while it lives (on the current
    /// runtime).
    pub(super) fn new(pool: PgPool, capacity: usize) -> Arc<Held> {
        let capacity = if pool.options().get_max_connections() >= KEEP_FROM_POOL_SIZE {
            capacity
        } else {
            0
        };
        let held = Arc::new(Held {
            pool,
            capacity,
            kept: Mutex::new(Vec::new()),
        });
        if capacity > 0 {
            tokio::spawn(sweep(Arc::downgrade(&held)));
        }
        held
    }

    /// A kept connection fresh enough to use as it is, or one from the pool.
    pub(super) async fn lend(&self) -> Result<Lent, sqlx::Error> {
        let now = Instant::now();
        loop {
            let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(kept) = kept else { break };
            if usable(kept.taken, kept.idle_since, now) {
                return Ok(Lent {
                    connection: kept.connection,
                    taken: kept.taken,
                });
            }
            // Dropped: back to the pool, through its check.
        }
        Ok(Lent {
            connection: self.pool.acquire().await?,
            taken: now,
        })
    }

    /// After the write on `lent`: kept when it `succeeded` and there is room, else given back to
    /// the pool (which checks it).
    pub(super) fn finished(&self, lent: Lent, succeeded: bool) {
        let now = Instant::now();
        // Just used, so only its age can rule it out.
        if !succeeded || !usable(lent.taken, now, now) {
            return;
        }
        let kept = Kept {
            connection: lent.connection,
            taken: lent.taken,
            idle_since: now,
        };
        let mut all = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if all.len() < self.capacity {
            all.push(kept);
        }
    }
}

/// Every `PING_IF_IDLE_FOR`, gives back to the pool the kept connections no write has used for
/// that long, until `held` is dropped.
async fn sweep(held: Weak<Held>) {
    loop {
        tokio::time::sleep(PING_IF_IDLE_FOR).await;
        let Some(held) = held.upgrade() else { return };
        let now = Instant::now();
        let stale: Vec<Kept> = {
            let mut all = held.kept.lock().unwrap_or_else(|e| e.into_inner());
            let (fresh, stale) = std::mem::take(&mut *all)
                .into_iter()
                .partition(|kept| usable(kept.taken, kept.idle_since, now));
            *all = fresh;
            stale
        };
        // Dropped outside the lock: each goes back to the pool through its check.
        drop(stale);
    }
}

/// Whether a connection taken from the pool at `taken` and idle since `idle_since` may be used
/// (or kept) at `now` without the pool's check.
fn usable(taken: Instant, idle_since: Instant, now: Instant) -> bool {
    now.duration_since(idle_since) < PING_IF_IDLE_FOR && now.duration_since(taken) < KEEP_AT_MOST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_used_as_it_is_only_while_fresh_and_young() {
        let taken = Instant::now();
        let just_now = taken + Duration::from_secs(10);
        assert!(usable(taken, just_now, just_now));
        assert!(usable(
            taken,
            just_now,
            just_now + PING_IF_IDLE_FOR - Duration::from_millis(1)
        ));
        // Idle as long as the pool would ping it: the pool's check instead.
        assert!(!usable(taken, just_now, just_now + PING_IF_IDLE_FOR));
        // Busy all along but kept for a minute: back to the pool's rules.
        let late = taken + KEEP_AT_MOST;
        assert!(!usable(taken, late, late));
        assert!(usable(
            taken,
            late - Duration::from_millis(1),
            late - Duration::from_millis(1)
        ));
    }
}
