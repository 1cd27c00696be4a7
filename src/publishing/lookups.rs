//! What every request looks up before it can do its work: the caller behind an API key, and the
//! workspace a post goes to. Both answers are kept in this process for at most [`LOOKUP_TTL`],
//! which takes two queries off the path of almost every request while keeping the contract's
//! promise that a revoked key is refused by every running server within 5 seconds.

use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use quick_cache::sync::Cache;
use tokio::time::Instant;
use uuid::Uuid;

use super::Publisher;
use crate::domain::KeyHash;
use crate::store::{Caller, StoreError, Workspace};

/// How long an answer is used after its lookup started: under the contract's 5-second
/// revocation window, with a second to spare for a slow lookup and clocks.
pub const LOOKUP_TTL: Duration = Duration::from_secs(4);

/// The most answers kept per kind: a bound on memory whatever the callers send (only found keys
/// and workspaces are kept, so unknown keys cannot fill it either).
const CAPACITY: usize = 10_000;

/// Answers found recently, each with the moment it stops being used. Bounded by `quick_cache`
/// (its eviction keeps the entries in use); the expiry is ours, as `quick_cache` has none.
pub struct Recent<K, V> {
    cache: Cache<K, (V, Instant)>,
}

impl<K: Eq + Hash + Clone, V: Clone> Recent<K, V> {
    pub fn new(capacity: usize) -> Recent<K, V> {
        Recent {
            cache: Cache::new(capacity),
        }
    }

    /// The answer for `key`: a kept one younger than [`LOOKUP_TTL`], else `fetch`'s, kept when
    /// something was found. Nothing found and errors are never kept: a key created a moment ago
    /// works at once, and a database hiccup is not remembered.
    pub async fn get_or_fetch<E>(
        &self,
        key: &K,
        fetch: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<V>, E> {
        // Counted from before the lookup: an answer read just before a revocation committed is
        // used for at most LOOKUP_TTL after it.
        let started = Instant::now();
        if let Some((value, until)) = self.cache.get(key) {
            if started < until {
                return Ok(Some(value));
            }
        }
        let found = fetch.await?;
        match &found {
            Some(value) => self
                .cache
                .insert(key.clone(), (value.clone(), started + LOOKUP_TTL)),
            // Revoked (or deleted) since: forget the old answer now rather than at eviction.
            None => {
                self.cache.remove(key);
            }
        }
        Ok(found)
    }
}

/// The publisher's recent lookups.
pub struct Lookups {
    callers: Recent<KeyHash, Caller>,
    workspaces: Recent<(Uuid, Option<Uuid>), Workspace>,
}

impl Default for Lookups {
    fn default() -> Self {
        Lookups {
            callers: Recent::new(CAPACITY),
            workspaces: Recent::new(CAPACITY),
        }
    }
}

impl Publisher {
    /// The active key with this hash (an answer at most [`LOOKUP_TTL`] old).
    pub async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Caller>, StoreError> {
        self.lookups
            .callers
            .get_or_fetch(hash, self.store.authenticate(hash))
            .await
    }

    /// The given workspace of the organization, or its primary one (an answer at most
    /// [`LOOKUP_TTL`] old).
    pub(super) async fn find_workspace(
        &self,
        organization_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> Result<Option<Workspace>, StoreError> {
        self.lookups
            .workspaces
            .get_or_fetch(
                &(organization_id, workspace_id),
                self.store.find_workspace(organization_id, workspace_id),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A lookup that counts its calls and answers `answer`.
    async fn counted(calls: &AtomicU32, answer: Option<u32>) -> Result<Option<u32>, String> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(answer)
    }

    #[tokio::test(start_paused = true)]
    async fn a_found_answer_is_used_until_the_ttl_then_looked_up_again() {
        let recent = Recent::new(10);
        let calls = AtomicU32::new(0);
        assert_eq!(
            recent.get_or_fetch(&"k", counted(&calls, Some(1))).await,
            Ok(Some(1))
        );
        tokio::time::advance(LOOKUP_TTL - Duration::from_millis(1)).await;
        assert_eq!(
            recent.get_or_fetch(&"k", counted(&calls, Some(2))).await,
            Ok(Some(1))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        // Revoked meanwhile: refused from now on, and forgotten.
        assert_eq!(
            recent.get_or_fetch(&"k", counted(&calls, None)).await,
            Ok(None)
        );
        assert_eq!(
            recent.get_or_fetch(&"k", counted(&calls, None)).await,
            Ok(None)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_found_and_errors_are_never_kept() {
        let recent: Recent<&str, u32> = Recent::new(10);
        let calls = AtomicU32::new(0);
        assert_eq!(
            recent.get_or_fetch(&"k", counted(&calls, None)).await,
            Ok(None)
        );
        let failed = recent
            .get_or_fetch(&"k", async { Err::<Option<u32>, _>("down".to_owned()) })
            .await;
        assert_eq!(failed, Err("down".to_owned()));
        // A key created a moment ago works at once.
        assert_eq!(
            recent.get_or_fetch(&"k", counted(&calls, Some(7))).await,
            Ok(Some(7))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_ttl_counts_from_the_start_of_the_lookup() {
        let recent = Recent::new(10);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, String>(Some(1))
        };
        assert_eq!(recent.get_or_fetch(&"k", slow).await, Ok(Some(1)));
        // One second went by in the lookup: three are left.
        tokio::time::advance(LOOKUP_TTL - Duration::from_secs(1)).await;
        let calls = AtomicU32::new(0);
        assert_eq!(
            recent.get_or_fetch(&"k", counted(&calls, None)).await,
            Ok(None)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn keys_are_kept_apart() {
        let recent = Recent::new(10);
        let calls = AtomicU32::new(0);
        assert_eq!(
            recent.get_or_fetch(&"a", counted(&calls, Some(1))).await,
            Ok(Some(1))
        );
        assert_eq!(
            recent.get_or_fetch(&"b", counted(&calls, Some(2))).await,
            Ok(Some(2))
        );
        assert_eq!(
            recent.get_or_fetch(&"a", counted(&calls, Some(3))).await,
            Ok(Some(1))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
