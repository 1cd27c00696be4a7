//! Webhook deliveries: the queue the trigger of the migration `webhook_endpoints` fills (one row
//! per event and endpoint that wants it), claimed by the delivery workers with leases, and the
//! log of their attempts.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::domain::delivery_policy::{DeliveryNext, EndpointChange};

/// What a worker asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimQuery {
    /// Deliveries due at or before this time (and leases that ran out by then).
    pub now: DateTime<Utc>,
    /// The lease given to what is claimed.
    pub lease_until: DateTime<Utc>,
    /// The token the lease is held with (`finish` must repeat it).
    pub lease_token: Uuid,
    /// The most deliveries in all.
    pub limit: u32,
    /// The most deliveries of one endpoint in flight in the claiming process, counting those in
    /// `busy`: one endpoint's backlog cannot take every slot.
    pub per_endpoint: u32,
    /// Deliveries of each endpoint the claiming process has in flight already.
    pub busy: Vec<(Uuid, u32)>,
}

/// A delivery claimed for an attempt, with what the attempt needs of its endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub endpoint_id: Uuid,
    pub organization_id: Uuid,
    pub event_id: String,
    pub event_type: String,
    /// The post event to render (`social_post_events.seq`), or `None` when `payload` is the
    /// whole body (`webhook.test`).
    pub event_seq: Option<i64>,
    pub payload: Option<String>,
    /// Attempts made before this one.
    pub attempts: u32,
    pub lease_token: Uuid,
    pub url: String,
    /// The sealed `whsec_` secret (open it with `Store::secrets`, associated data
    /// [`super::secret_aad`]).
    pub secret: String,
    /// The sealed secret before the last rotation, while it still signs.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
}

// The sealed secrets are not the secrets, but a log has no use for them either.
impl fmt::Debug for ClaimedDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedDelivery")
            .field("id", &self.id)
            .field("endpoint_id", &self.endpoint_id)
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// One attempt made, and what it decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedAttempt {
    pub delivery_id: i64,
    pub endpoint_id: Uuid,
    pub lease_token: Uuid,
    pub event_id: String,
    pub event_type: String,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u32,
    pub http_status: Option<u16>,
    /// Why no answer came, or why nothing was sent.
    pub error: Option<String>,
    /// The first 1 KiB of the answer.
    pub response_excerpt: Option<String>,
    pub next: DeliveryNext,
    /// Why it did not deliver (the delivery's `last_error`).
    pub reason: Option<String>,
    pub endpoint: EndpointChange,
}

/// What `finish` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    /// The delivery took the attempt's decision.
    Recorded,
    /// The lease had been lost (it ran out and another worker claimed the delivery): the
    /// attempt is logged, the delivery left to its new holder.
    LeaseLost,
}

/// The queue as `/metrics` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryBacklog {
    /// Pending deliveries to enabled endpoints.
    pub pending: i64,
    /// When the oldest of them was queued.
    pub oldest: Option<DateTime<Utc>>,
}

/// The storage of webhook deliveries.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Leases due pending deliveries of enabled endpoints to the caller, oldest due first,
    /// within the query's bounds; a delivery leased to someone else is skipped, one whose lease
    /// ran out is taken (its holder died mid-attempt).
    async fn claim_deliveries(
        &self,
        query: &ClaimQuery,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Logs each attempt and, where the lease is still the caller's, applies its decision to
    /// the delivery; each endpoint change is applied either way (the endpoint did answer so).
    /// One transaction for all of them, so that a worker records a burst of attempts with one
    /// commit; what each found, in the order given.
    async fn finish_deliveries(
        &self,
        attempts: &[FinishedAttempt],
    ) -> Result<Vec<Finished>, StoreError>;
    /// The pending deliveries to enabled endpoints: how many, and since when.
    async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError>;
    /// Deletes at most `limit` deliveries finished before `before` (their attempts with them);
    /// how many.
    async fn purge_deliveries(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError>;
}

/// The delivery's columns after an attempt: `(state, next_attempt_at, finished_at)`.
pub(super) fn next_columns(
    attempt: &FinishedAttempt,
) -> (&'static str, DateTime<Utc>, Option<DateTime<Utc>>) {
    match attempt.next {
        DeliveryNext::Delivered => ("delivered", attempt.finished_at, Some(attempt.finished_at)),
        DeliveryNext::Failed => ("failed", attempt.finished_at, Some(attempt.finished_at)),
        DeliveryNext::RetryAt(at) => ("pending", at, None),
    }
}

/// The endpoint changes of a batch of attempts that change something, in the order to apply
/// them: in the batch's order for each endpoint (a success after a failure clears it, a failure
/// after a success marks it), the endpoints by id (two workers' transactions lock endpoint rows in
/// the same order, so they cannot deadlock), and a success repeated with no other change of that
/// endpoint between them only once (clearing twice is clearing once).
pub(super) fn endpoint_updates(attempts: &[FinishedAttempt]) -> Vec<&FinishedAttempt> {
    let mut updates: Vec<&FinishedAttempt> = Vec::new();
    let mut last: std::collections::HashMap<Uuid, &EndpointChange> =
        std::collections::HashMap::new();
    for attempt in attempts {
        let change = &attempt.endpoint;
        if *change == EndpointChange::Unchanged {
            continue;
        }
        let id = attempt.endpoint_id;
        if *change == EndpointChange::Succeeded
            && last.get(&id) == Some(&&EndpointChange::Succeeded)
        {
            continue;
        }
        last.insert(id, change);
        updates.push(attempt);
    }
    // Stable: each endpoint's changes keep their order.
    updates.sort_by_key(|attempt| attempt.endpoint_id);
    updates
}

/// Deletes at most `$2` deliveries finished before `$1`, oldest first (SQLite: attempts go with
/// them, by their foreign key; Postgres has none and deletes them in its own statement).
pub(super) const PURGE_DELIVERIES: &str = "delete from webhook_deliveries where id in \
     (select id from webhook_deliveries where state <> 'pending' and finished_at < $1 \
      order by finished_at limit $2)";

/// The pending deliveries to enabled endpoints: how many, and the oldest one's queueing time.
pub(super) const BACKLOG: &str = "select count(*), min(d.created_at) from webhook_deliveries d \
     join webhook_endpoints e on e.id = d.endpoint_id \
     where d.state = 'pending' and not e.disabled";

/// An endpoint answered with success: it is not failing any more (`$1` the endpoint).
pub(super) const CLEAR_FAILING: &str =
    "update webhook_endpoints set failing_since = null where id = $1 and failing_since is not null";

/// An endpoint failed: failing since `$2` unless it was already (`$1` the endpoint).
pub(super) const MARK_FAILING: &str =
    "update webhook_endpoints set failing_since = coalesce(failing_since, $2) where id = $1";

/// Disables an endpoint for the reason `$3` at `$4` (`$1` the endpoint, `$2` failing since). One
/// already disabled keeps the reason it was disabled with first (by its owner, say).
pub(super) const DISABLE_ENDPOINT: &str = "update webhook_endpoints set disabled = true, \
         disabled_reason = $3, failing_since = coalesce(failing_since, $2), updated_at = $4 \
     where id = $1 and not disabled";

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(endpoint: Uuid, change: EndpointChange) -> FinishedAttempt {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        FinishedAttempt {
            delivery_id: 1,
            endpoint_id: endpoint,
            lease_token: Uuid::nil(),
            event_id: "evt".into(),
            event_type: "post.posted".into(),
            attempt: 1,
            started_at: at,
            finished_at: at,
            duration_ms: 1,
            http_status: Some(204),
            error: None,
            response_excerpt: None,
            next: DeliveryNext::Delivered,
            reason: None,
            endpoint: change,
        }
    }

    #[test]
    fn a_burst_of_successes_clears_once_and_changes_keep_their_order_per_endpoint() {
        let a = Uuid::from_u128(2);
        let b = Uuid::from_u128(1);
        let since = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let failing = EndpointChange::Failing { since };
        let disable = EndpointChange::Disable {
            since,
            reason: "410 Gone".into(),
        };
        let batch = [
            attempt(a, EndpointChange::Succeeded),
            attempt(a, EndpointChange::Succeeded),
            attempt(b, EndpointChange::Unchanged),
            attempt(a, failing.clone()),
            attempt(b, EndpointChange::Succeeded),
            attempt(a, EndpointChange::Succeeded),
            attempt(b, disable.clone()),
            attempt(b, EndpointChange::Succeeded),
        ];
        let updates: Vec<(Uuid, &EndpointChange)> = endpoint_updates(&batch)
            .into_iter()
            .map(|attempt| (attempt.endpoint_id, &attempt.endpoint))
            .collect();
        assert_eq!(
            updates,
            vec![
                (b, &EndpointChange::Succeeded),
                (b, &disable),
                (b, &EndpointChange::Succeeded),
                (a, &EndpointChange::Succeeded),
                (a, &failing),
                (a, &EndpointChange::Succeeded),
            ]
        );
    }
}
