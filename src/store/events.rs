//! Post events and account events: the outboxes the database writes in the transaction of each change (the migration
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

/// An account event as kept (`account_events`): the connection right after its change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAccountEvent {
    pub event_id: String,
    pub event_type: String,
    pub position: EventPosition,
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub connection_id: Uuid,
    pub platform: String,
    pub connected: bool,
    pub reason: String,
    pub account: crate::domain::connection::LinkedAccount,
    pub linked_at: Option<DateTime<Utc>>,
    pub unlinked_at: Option<DateTime<Utc>>,
    /// When the change happened: the event's timestamp.
    pub updated_at: DateTime<Utc>,
}

/// An event of the feed: a post's or an account's. Both share the feed's order (`seq` comes
/// from one counter, `change` is the writing transaction's), so a position names one event.
// A page holds at most 100 of them, each rendered at once: boxing the larger variant would buy
// nothing but an allocation per post event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum FeedEvent {
    Post(StoredEvent),
    Account(StoredAccountEvent),
}

impl FeedEvent {
    pub fn position(&self) -> EventPosition {
        match self {
            FeedEvent::Post(event) => event.position,
            FeedEvent::Account(event) => event.position,
        }
    }
}

/// The columns of `account_events` that `AccountEventRow` reads, after `change`.
pub(super) const ACCOUNT_EVENT_COLUMNS: &str = "seq, event_id, type, organization_id, \
     workspace_id, connection_id, platform, connected, reason, account_username, account_name, \
     profile_url, user_image, linked_at, unlinked_at, updated_at";

/// What loading an account event costs, roughly: its text columns and a fixed part.
pub(super) const ACCOUNT_EVENT_BYTES: &str = "(256 + coalesce(length(account_username), 0) \
     + coalesce(length(account_name), 0) + coalesce(length(profile_url), 0) \
     + coalesce(length(user_image), 0))";

#[derive(sqlx::FromRow)]
pub(super) struct AccountEventRow<Id> {
    change: i64,
    seq: i64,
    event_id: String,
    #[sqlx(rename = "type")]
    event_type: String,
    organization_id: Id,
    workspace_id: Id,
    connection_id: Id,
    platform: String,
    connected: bool,
    reason: String,
    account_username: Option<String>,
    account_name: Option<String>,
    profile_url: Option<String>,
    user_image: Option<String>,
    linked_at: Option<DateTime<Utc>>,
    unlinked_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl<Id: super::rows::Column<Uuid>> From<AccountEventRow<Id>> for StoredAccountEvent {
    fn from(row: AccountEventRow<Id>) -> Self {
        StoredAccountEvent {
            event_id: row.event_id,
            event_type: row.event_type,
            position: EventPosition {
                change: row.change,
                seq: row.seq,
            },
            organization_id: row.organization_id.into_domain(),
            workspace_id: row.workspace_id.into_domain(),
            connection_id: row.connection_id.into_domain(),
            platform: row.platform,
            connected: row.connected,
            reason: row.reason,
            account: crate::domain::connection::LinkedAccount {
                username: row.account_username,
                display_name: row.account_name,
                profile_url: row.profile_url,
                user_image: row.user_image,
                account_id: None,
            },
            linked_at: row.linked_at,
            unlinked_at: row.unlinked_at,
            updated_at: row.updated_at,
        }
    }
}

/// Deletes at most `$2` account events of changes made before `$1`, oldest first.
pub(super) const PURGE_ACCOUNT_EVENTS: &str = "delete from account_events where seq in \
     (select seq from account_events where updated_at < $1 order by updated_at limit $2)";

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
    /// The organization's events at these positions, post and account events alike (another
    /// organization's are left out), in the feed's order.
    async fn find_events(
        &self,
        organization_id: Uuid,
        seqs: &[i64],
    ) -> Result<Vec<FeedEvent>, StoreError>;
    /// Deletes at most `limit` events of changes made before `before`, oldest first; how many.
    async fn purge_events(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError>;
}
