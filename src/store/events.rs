//! Post events: the outbox the database writes in the transaction of each change (the migration
//! `post_events`), read back as the feed of `GET /events`, and trimmed by retention.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use super::posts::TrackingRecord;
use crate::domain::TrackedStatus;
use crate::domain::event_feed::{EventFilter, EventPosition};

/// An event as kept: its id, type and place in the feed, what the record was before, and the
/// record right after the change.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub event_id: String,
    pub event_type: String,
    pub position: EventPosition,
    pub previous_tracked_status: Option<TrackedStatus>,
    pub record: TrackingRecord,
}

/// How many bytes an event takes (what loading it costs), and where it stands in the feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSize {
    pub position: EventPosition,
    pub bytes: u64,
}

/// Deletes at most `$2` events of changes made before `$1`, oldest first: the same statement on
/// both backends.
pub(super) const PURGE_EVENTS: &str = "delete from social_post_events where seq in \
     (select seq from social_post_events where updated_at < $1 order by updated_at limit $2)";

/// The storage of post events.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// How big the organization's events matching `filter` are, in the feed's order, strictly
    /// after `after`; at most `limit`. Only events that no uncommitted one can still precede are
    /// listed, as in the changes feed: an event committed later never lands behind a cursor.
    async fn list_event_sizes(
        &self,
        organization_id: Uuid,
        filter: &EventFilter,
        after: Option<EventPosition>,
        limit: i64,
    ) -> Result<Vec<EventSize>, StoreError>;
    /// The organization's events at these positions (another organization's are left out), in
    /// the feed's order.
    async fn find_events(
        &self,
        organization_id: Uuid,
        seqs: &[i64],
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Deletes at most `limit` events of changes made before `before`, oldest first; how many.
    async fn purge_events(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError>;
}
