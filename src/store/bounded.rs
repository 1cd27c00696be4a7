//! Every database call ends in bounded time, whatever the database does: a client-side deadline
//! on each call, a circuit breaker that fails calls fast (and so stops reconnect storms) while
//! the database is unreachable, and a way for shutdown to give up the calls still waiting.
//!
//! [`Bounded`] wraps either backend behind the same [`Store`] trait, so this is the one place
//! where a call's bound is decided. A frozen database (its connections open, nothing coming
//! back) would otherwise hold each call, and each connection, forever: sqlx has no read timeout.
//! A call cut short leaves its connection in the middle of a statement; [`Suspicion`] tells the
//! pool to check connections within a bound before taking them back for a while after, so that
//! such a connection is closed instead of waiting on its socket for ever (see `postgres.rs`).

use crate::domain::Platform;
use crate::domain::connection::{ConnectionChange, ConnectionPosition};
use crate::domain::event_feed::{EventFilter, EventPosition};
use crate::domain::webhook_endpoint::{EndpointChange, EndpointPosition, Redelivery};
use crate::store::AccountStore;
use crate::store::EventStore;
use crate::store::PostStore;
use crate::store::RecordSize;
use crate::store::Secrets;
use crate::store::WorkspacePosition;
use crate::store::{
    ClaimQuery, ClaimedDelivery, DeliveryBacklog, DeliveryStore, Finished, FinishedAttempt,
};
use crate::store::{CommentStore, CommentWrite, NewCommentWrite, WriteInserted, WriteRecording};
use crate::store::{
    ConnectionApplied, ConnectionFilter, ConnectionStore, ProfileOwner, StoredConnection,
};
use crate::store::{EndpointStore, NewStoredEndpoint, StoredAttempt, StoredEndpoint};
use crate::store::{EventSize, FeedEvent};
use crate::store::{ProfileCreate, ProfileSettle};
use crate::store::{SecretColumn, StoredSecretStore};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    ApiKeyInfo, Caller, DueQuery, DueRecord, DynStore, Inserted, NewTracking, Organization,
    PoolStats, Readiness, Store, StoreError, StoredAnswerJson, TrackingRecord, Workspace,
    WorkspaceInfo,
};
use crate::domain::{ChangePosition, KeyHash, Outcome, Position, PostFilter, Transition};

/// The breaker's first wait after the database failed to answer, doubled after each failed
/// probe up to [`MOST_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The breaker's longest wait: the service notices a database that came back within this.
pub const MOST_BACKOFF: Duration = Duration::from_secs(5);
/// How long after a call was cut short the pool checks each connection it takes back.
const SUSPICION: Duration = Duration::from_secs(60);

/// Whether a database call was cut short lately (by its deadline, by shutdown, or because its
/// caller went away): its connection may be stuck mid-statement.
#[derive(Debug)]
pub(super) struct Suspicion {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last cut, plus one; 0 for never.
    last_cut: AtomicU64,
}

impl Suspicion {
    pub(super) fn new() -> Suspicion {
        Suspicion {
            epoch: Instant::now(),
            last_cut: AtomicU64::new(0),
        }
    }

    fn record_cut(&self) {
        let at = self.epoch.elapsed().as_millis() as u64 + 1;
        self.last_cut.fetch_max(at, Ordering::SeqCst);
    }

    /// Whether a call was cut short within [`SUSPICION`].
    pub(super) fn is_recent(&self) -> bool {
        match self.last_cut.load(Ordering::SeqCst) {
            0 => false,
            at => {
                let now = self.epoch.elapsed().as_millis() as u64 + 1;
                now.saturating_sub(at) <= SUSPICION.as_millis() as u64
            }
        }
    }
}

/// A database call that records in `Suspicion` when it is dropped unfinished, before the call
/// (and the connection it holds) is dropped: the pool's check then sees the cut.
struct Watched<'s, F> {
    call: Option<Pin<Box<F>>>,
    suspicion: &'s Suspicion,
}

impl<F: Future> Future for Watched<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(call) = self.call.as_mut() else {
            return Poll::Pending;
        };
        let answer = std::task::ready!(call.as_mut().poll(cx));
        self.call = None;
        Poll::Ready(answer)
    }
}

impl<F> Drop for Watched<'_, F> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            self.suspicion.record_cut();
            drop(call);
        }
    }
}

/// Runs `call` for at most `deadline`; one cut short is recorded in `suspicion`.
pub(super) async fn within<T>(
    deadline: Duration,
    suspicion: &Suspicion,
    call: impl Future<Output = T>,
) -> Option<T> {
    let watched = Watched {
        call: Some(Box::pin(call)),
        suspicion,
    };
    tokio::time::timeout(deadline, watched).await.ok()
}

/// What the breaker lets through.
#[derive(Debug, Default)]
struct Breaker {
    /// Calls fail at once until then; `None`: closed, every call goes through.
    open_until: Option<Instant>,
    /// The wait after the next failed probe.
    backoff: Duration,
    /// A probe is under way: the others keep failing fast until it answers.
    probing: bool,
}

/// What the breaker said about one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Admission {
    /// The breaker is closed.
    Through,
    /// The one call that finds out whether the database is back.
    Probe,
    /// Refused: the database failed to answer a moment ago; retry in this long.
    Refused(Duration),
}

impl Breaker {
    fn admit(&mut self, now: Instant) -> Admission {
        match self.open_until {
            None => Admission::Through,
            Some(until) if now < until => Admission::Refused(until - now),
            Some(_) if self.probing => Admission::Refused(Duration::ZERO),
            Some(_) => {
                self.probing = true;
                Admission::Probe
            }
        }
    }

    /// Records how a call admitted as `admission` ended: `reached` when the database answered
    /// (successfully or with an error of its own).
    fn settle(&mut self, admission: Admission, reached: bool, now: Instant) {
        if reached {
            *self = Breaker::default();
            return;
        }
        match admission {
            Admission::Probe => {
                self.backoff = (self.backoff * 2).clamp(FIRST_BACKOFF, MOST_BACKOFF);
                self.open_until = Some(now + self.backoff);
                self.probing = false;
            }
            // Calls that were already under way when the database went: the first one opens
            // the breaker; the rest find it open.
            Admission::Through if self.open_until.is_none() => {
                self.backoff = FIRST_BACKOFF;
                self.open_until = Some(now + FIRST_BACKOFF);
            }
            _ => {}
        }
    }
}

/// The store every caller gets: either backend, each call bounded.
pub struct Bounded {
    inner: DynStore,
    deadline: Duration,
    suspicion: Arc<Suspicion>,
    breaker: Mutex<Breaker>,
    /// Cancelled (and replaced) by `give_up_waiting`: the calls holding the old one end.
    waiting: Mutex<CancellationToken>,
}

impl Bounded {
    /// `inner` with `deadline` on each call; `suspicion` is the one its pool checks.
    pub(super) fn new(inner: DynStore, deadline: Duration, suspicion: Arc<Suspicion>) -> Bounded {
        Bounded {
            inner,
            deadline,
            suspicion,
            breaker: Mutex::default(),
            waiting: Mutex::default(),
        }
    }

    /// Runs one call of the inner store within the deadline, through the breaker.
    async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let admission = lock(&self.breaker).admit(Instant::now());
        if let Admission::Refused(wait) = admission {
            return Err(StoreError::Unavailable(format!(
                "the database did not answer a moment ago; the next attempt is in {} ms",
                wait.as_millis()
            )));
        }
        let given_up = lock(&self.waiting).clone();
        let result = tokio::select! {
            answer = within(self.deadline, &self.suspicion, call) => answer.unwrap_or_else(|| {
                Err(StoreError::Unavailable(format!(
                    "the database did not answer within {} s",
                    self.deadline.as_secs_f64()
                )))
            }),
            // The call is dropped unfinished, and so recorded as cut.
            () = given_up.cancelled() => {
                Err(StoreError::Unavailable("given up at shutdown".into()))
            }
        };
        // A statement the server ended by its own timeout was answered by a live server: one
        // slow statement must not open the breaker for every other caller.
        let reached = match &result {
            Ok(_) => true,
            Err(error) => !error.is_unavailable() || error.is_statement_timeout(),
        };
        lock(&self.breaker).settle(admission, reached, Instant::now());
        result
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl Store for Bounded {
    async fn migrate(&self) -> Result<(), StoreError> {
        // No deadline: a migration may take long (an index on a big table, another replica's
        // migration lock); it runs at startup and from `migrate`, not for a caller.
        self.inner.migrate().await
    }

    async fn readiness(&self) -> Result<Readiness, StoreError> {
        self.run(self.inner.readiness()).await
    }

    fn pool_stats(&self) -> PoolStats {
        self.inner.pool_stats()
    }

    fn secrets(&self) -> &Secrets {
        self.inner.secrets()
    }

    fn give_up_waiting(&self) {
        let mut waiting = lock(&self.waiting);
        waiting.cancel();
        *waiting = CancellationToken::new();
    }
}

/// Implements `$store` for [`Bounded`]: each call goes to the inner store through `run`, within
/// the call's deadline and through the breaker. The signatures are the trait's own, so the
/// compiler checks this list against it; a method added to the trait must be added here.
macro_rules! bounded {
    ($store:ident { $(async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $store for Bounded {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.run(self.inner.$name($($arg),*)).await
                }
            )*
        }
    };
}

bounded!(PostStore {
    async fn insert_tracking(&self, record: &NewTracking) -> Result<Inserted, StoreError>;
    async fn record_outcome(&self, id: Uuid, transition: Transition, outcome: &Outcome, answer: Option<&StoredAnswerJson>) -> Result<TrackingRecord, StoreError>;
    async fn find_claim(&self, organization_id: Uuid, key: &str) -> Result<Option<TrackingRecord>, StoreError>;
    async fn store_answer(&self, id: Uuid, answer: &StoredAnswerJson) -> Result<(), StoreError>;
    async fn settle_answer(&self, id: Uuid, answer: &StoredAnswerJson) -> Result<(), StoreError>;
    async fn release_idempotency_claims(&self, cutoff: DateTime<Utc>, batch: i64) -> Result<u64, StoreError>;
    async fn find_tracking(&self, organization_id: Uuid, id: Uuid) -> Result<Option<TrackingRecord>, StoreError>;
    async fn find_tracking_by_post_id(&self, organization_id: Uuid, provider_post_id: &str) -> Result<Option<TrackingRecord>, StoreError>;
    async fn find_tracking_by_provider_post_id(&self, provider_post_id: &str) -> Result<Vec<TrackingRecord>, StoreError>;
    async fn find_possible_owners(&self, workspace_id: Uuid, post: &str, from: DateTime<Utc>, until: DateTime<Utc>, limit: i64) -> Result<Vec<TrackingRecord>, StoreError>;
    async fn claim_due(&self, due: &DueQuery) -> Result<Option<DueRecord>, StoreError>;
    async fn set_next_check(&self, id: Uuid, next_check_at: DateTime<Utc>, check_attempts: u32) -> Result<(), StoreError>;
    async fn mark_overdue(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;
    async fn list_tracking_sizes(&self, organization_id: Uuid, filter: &PostFilter, after: Option<Position>, limit: i64) -> Result<Vec<RecordSize>, StoreError>;
    async fn list_change_sizes(&self, organization_id: Uuid, filter: &PostFilter, after: Option<ChangePosition>, limit: i64) -> Result<Vec<RecordSize<ChangePosition>>, StoreError>;
    async fn find_trackings(&self, organization_id: Uuid, ids: &[Uuid]) -> Result<Vec<TrackingRecord>, StoreError>;
    async fn record_schedule_change(&self, id: Uuid, schedule_date: Option<DateTime<Utc>>, paused: Option<bool>, timezone: Option<&str>) -> Result<TrackingRecord, StoreError>;
    async fn claim_change(&self, id: Uuid, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Option<TrackingRecord>, StoreError>;
    async fn release_change(&self, id: Uuid, until: DateTime<Utc>) -> Result<(), StoreError>;
    async fn begin_retry(&self, id: Uuid, at: DateTime<Utc>, check_at: DateTime<Utc>) -> Result<Option<TrackingRecord>, StoreError>;
    async fn undo_retry(&self, id: Uuid, at: DateTime<Utc>) -> Result<Option<TrackingRecord>, StoreError>;
});

bounded!(AccountStore {
    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Caller>, StoreError>;
    async fn find_workspace(&self, organization_id: Uuid, workspace_id: Option<Uuid>) -> Result<Option<Workspace>, StoreError>;
    async fn ensure_organization(&self, name: &str) -> Result<Organization, StoreError>;
    async fn find_organization(&self, name: &str) -> Result<Option<Organization>, StoreError>;
    async fn find_organization_by_id(&self, id: Uuid) -> Result<Option<Organization>, StoreError>;
    async fn count_organizations(&self) -> Result<i64, StoreError>;
    async fn list_workspaces(&self, organization_id: Uuid) -> Result<Vec<WorkspaceInfo>, StoreError>;
    async fn list_workspace_page(&self, organization_id: Uuid, after: Option<WorkspacePosition>, limit: i64) -> Result<Vec<WorkspaceInfo>, StoreError>;
    async fn find_workspace_info(&self, organization_id: Uuid, id: Uuid) -> Result<Option<WorkspaceInfo>, StoreError>;
    async fn create_workspace(&self, organization_id: Uuid, name: &str, ayrshare_profile_key: Option<&str>) -> Result<Workspace, StoreError>;
    async fn insert_workspace(&self, organization_id: Uuid, id: Uuid, name: &str, profile_title: Option<&str>, idempotency_key: Option<&str>, claim_until: DateTime<Utc>) -> Result<bool, StoreError>;
    async fn find_profile_create(&self, organization_id: Uuid, idempotency_key: Option<&str>, name: &str) -> Result<Option<ProfileCreate>, StoreError>;
    async fn claim_profile_create(&self, organization_id: Uuid, id: Uuid, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError>;
    async fn settle_profile_create(&self, organization_id: Uuid, id: Uuid, settle: ProfileSettle) -> Result<(), StoreError>;
    async fn insert_api_key(&self, organization_id: Uuid, hash: &KeyHash, prefix: &str, label: Option<&str>) -> Result<ApiKeyInfo, StoreError>;
    async fn list_api_keys(&self, organization_id: Uuid) -> Result<Vec<ApiKeyInfo>, StoreError>;
    async fn find_api_key(&self, id: Uuid) -> Result<Option<ApiKeyInfo>, StoreError>;
    async fn touch_api_key(&self, id: Uuid, at: DateTime<Utc>, not_before: DateTime<Utc>) -> Result<(), StoreError>;
    async fn revoke_api_key(&self, id_or_prefix: &str) -> Result<ApiKeyInfo, StoreError>;
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_on_a_failure_probes_once_and_backs_off_by_doubling() {
        let mut breaker = Breaker::default();
        let t0 = Instant::now();
        assert_eq!(breaker.admit(t0), Admission::Through);
        breaker.settle(Admission::Through, false, t0);
        assert!(matches!(breaker.admit(t0), Admission::Refused(w) if w == FIRST_BACKOFF));
        // A second call that was under way fails too: the wait is not pushed further.
        breaker.settle(Admission::Through, false, t0 + Duration::from_millis(10));
        let t1 = t0 + FIRST_BACKOFF;
        assert_eq!(breaker.admit(t1), Admission::Probe);
        assert_eq!(breaker.admit(t1), Admission::Refused(Duration::ZERO));
        breaker.settle(Admission::Probe, false, t1);
        assert!(matches!(breaker.admit(t1), Admission::Refused(w) if w == FIRST_BACKOFF * 2));
        let mut at = t1;
        for _ in 0..10 {
            at += MOST_BACKOFF;
            assert_eq!(breaker.admit(at), Admission::Probe);
            breaker.settle(Admission::Probe, false, at);
        }
        assert!(matches!(breaker.admit(at), Admission::Refused(w) if w == MOST_BACKOFF));
        at += MOST_BACKOFF;
        assert_eq!(breaker.admit(at), Admission::Probe);
        breaker.settle(Admission::Probe, true, at);
        assert_eq!(breaker.admit(at), Admission::Through);
        breaker.settle(Admission::Through, false, at);
        assert!(matches!(breaker.admit(at), Admission::Refused(w) if w == FIRST_BACKOFF));
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_is_cut_and_recorded_as_suspicious() {
        let suspicion = Suspicion::new();
        assert!(!suspicion.is_recent());
        let quick = within(Duration::from_secs(1), &suspicion, async { 7 }).await;
        assert_eq!(quick, Some(7));
        assert!(!suspicion.is_recent(), "a call that ended is no cut");
        let frozen = within(
            Duration::from_millis(20),
            &suspicion,
            std::future::pending::<()>(),
        )
        .await;
        assert_eq!(frozen, None);
        assert!(suspicion.is_recent());
    }

    #[tokio::test]
    async fn a_call_whose_caller_went_away_is_recorded_as_suspicious() {
        let suspicion = Suspicion::new();
        let call = within(
            Duration::from_secs(60),
            &suspicion,
            std::future::pending::<()>(),
        );
        let _ = tokio::time::timeout(Duration::from_millis(10), call).await;
        assert!(suspicion.is_recent());
    }
}

bounded!(EventStore {
    async fn list_event_sizes(&self, organization_id: Uuid, filter: &EventFilter, after: Option<EventPosition>, limit: i64) -> Result<Vec<EventSize>, StoreError>;
    async fn find_events(&self, organization_id: Uuid, seqs: &[i64]) -> Result<Vec<FeedEvent>, StoreError>;
    async fn purge_events(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError>;
});

bounded!(ConnectionStore {
    async fn apply_connection(&self, change: &ConnectionChange) -> Result<ConnectionApplied, StoreError>;
    async fn find_connection(&self, workspace_id: Uuid, platform: Platform) -> Result<Option<StoredConnection>, StoreError>;
    async fn list_connections(&self, organization_id: Uuid, filter: ConnectionFilter, after: Option<ConnectionPosition>, limit: i64) -> Result<Vec<StoredConnection>, StoreError>;
    async fn remember_ref_id(&self, organization_id: Uuid, workspace_id: Uuid, ref_id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    async fn find_profile_owners(&self, ref_id: &str) -> Result<Vec<ProfileOwner>, StoreError>;
});

bounded!(DeliveryStore {
    async fn claim_deliveries(&self, query: &ClaimQuery) -> Result<Vec<ClaimedDelivery>, StoreError>;
    async fn finish_deliveries(&self, attempts: &[FinishedAttempt]) -> Result<Vec<Finished>, StoreError>;
    async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError>;
    async fn purge_deliveries(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError>;
});

bounded!(EndpointStore {
    async fn create_endpoint(&self, endpoint: &NewStoredEndpoint, max: u32) -> Result<Option<StoredEndpoint>, StoreError>;
    async fn list_endpoints(&self, organization_id: Uuid, after: Option<EndpointPosition>, limit: i64) -> Result<Vec<StoredEndpoint>, StoreError>;
    async fn find_endpoint(&self, organization_id: Uuid, id: Uuid) -> Result<Option<StoredEndpoint>, StoreError>;
    async fn update_endpoint(&self, organization_id: Uuid, id: Uuid, change: &EndpointChange, now: DateTime<Utc>) -> Result<Option<StoredEndpoint>, StoreError>;
    async fn delete_endpoint(&self, organization_id: Uuid, id: Uuid) -> Result<bool, StoreError>;
    async fn rotate_endpoint_secret(&self, organization_id: Uuid, id: Uuid, sealed_secret: &str, previous_until: DateTime<Utc>, now: DateTime<Utc>) -> Result<Option<StoredEndpoint>, StoreError>;
    async fn queue_test_delivery(&self, organization_id: Uuid, id: Uuid, event_id: &str, payload: &Value, now: DateTime<Utc>) -> Result<bool, StoreError>;
    async fn redeliver(&self, organization_id: Uuid, id: Uuid, what: &Redelivery, limit: i64, now: DateTime<Utc>) -> Result<u64, StoreError>;
    async fn list_attempts(&self, endpoint_id: Uuid, before: Option<i64>, limit: i64) -> Result<Vec<StoredAttempt>, StoreError>;
});

bounded!(CommentStore {
    async fn insert_comment_write(&self, write: &NewCommentWrite) -> Result<WriteInserted, StoreError>;
    async fn record_comment_outcome(&self, id: Uuid, recording: &WriteRecording, answer: Option<&StoredAnswerJson>) -> Result<Option<CommentWrite>, StoreError>;
    async fn expire_comment_write(&self, id: Uuid) -> Result<Option<CommentWrite>, StoreError>;
    async fn find_comment_claim(&self, organization_id: Uuid, key: &str) -> Result<Option<CommentWrite>, StoreError>;
    async fn list_comment_writes(&self, organization_id: Uuid, tracking_id: Uuid, limit: i64) -> Result<Vec<CommentWrite>, StoreError>;
    async fn release_comment_claims(&self, cutoff: DateTime<Utc>, batch: i64) -> Result<u64, StoreError>;
});

bounded!(StoredSecretStore {
    async fn stored_secrets(&self, column: SecretColumn, after: Option<Uuid>, limit: i64) -> Result<Vec<(Uuid, String)>, StoreError>;
    async fn replace_stored_secret(&self, column: SecretColumn, id: Uuid, old: &str, new: &str) -> Result<bool, StoreError>;
    async fn any_sealed_secret(&self, column: SecretColumn) -> Result<bool, StoreError>;
    async fn scrub_replaced_secrets(&self) -> Result<(), StoreError>;
});
