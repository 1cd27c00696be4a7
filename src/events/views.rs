//! The answers of the events family: a post or account event as Standard Webhooks' payload structure has it
//! (`id`, `type`, `timestamp`, `data`), and a page of the feed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::TrackedStatus;
use crate::domain::connection::LinkedAccount;
use crate::publishing::TrackingView;
use crate::store::{FeedEvent, StoredEvent};

/// One event: what changed, when, and the record as the change left it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct EventView {
    /// `evt_` and 32 hex digits; the same on every delivery and in the feed.
    pub id: String,
    /// `post.scheduled`, `post.posted`, `post.partial`, `post.failed`, `post.unknown`,
    /// `post.cancelled`, `post.deleted`, `post.overdue`, `account.connected` or
    /// `account.disconnected`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change happened (the record's `updated_at` after it).
    pub timestamp: DateTime<Utc>,
    pub data: EventPayload,
}

/// What an event carries: a post's record, or an account connection.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventPayload {
    Post(EventData),
    Account(AccountEventData),
}

/// An `account.*` event's data: the connection right after the change.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AccountEventData {
    pub social_connection_id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    /// This API's name (`x`).
    pub platform: String,
    pub connected: bool,
    /// Why: `linked`, `unlinked` (at Ayrshare, by the user), `token_revoked` (Ayrshare dropped
    /// a dead token), `removed` (through this API), `post_refused` (a post was refused as not
    /// linked) or `status_check` (a status read found it changed).
    pub reason: String,
    /// The account as last known (also after it was disconnected).
    pub account: LinkedAccount,
    pub connected_at: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
}

/// The track answer of the record right after the change, with what it was before.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct EventData {
    #[serde(flatten)]
    pub record: TrackingView,
    /// The record's `tracked_status` before the change; null for a record whose first state
    /// is the event's.
    pub previous_tracked_status: Option<TrackedStatus>,
    pub organization_id: Uuid,
}

impl From<FeedEvent> for EventView {
    fn from(event: FeedEvent) -> Self {
        match event {
            FeedEvent::Post(event) => EventView::from(event),
            FeedEvent::Account(event) => EventView {
                id: event.event_id,
                event_type: event.event_type,
                timestamp: event.updated_at,
                data: EventPayload::Account(AccountEventData {
                    social_connection_id: event.connection_id,
                    organization_id: event.organization_id,
                    workspace_id: event.workspace_id,
                    platform: event.platform,
                    connected: event.connected,
                    reason: event.reason,
                    account: event.account,
                    connected_at: event.linked_at,
                    disconnected_at: event.unlinked_at,
                }),
            },
        }
    }
}

impl From<StoredEvent> for EventView {
    fn from(event: StoredEvent) -> Self {
        let organization_id = event.record.organization_id;
        let timestamp = event.record.updated_at;
        EventView {
            id: event.event_id,
            event_type: event.event_type,
            timestamp,
            data: EventPayload::Post(EventData {
                record: TrackingView::from(event.record),
                previous_tracked_status: event.previous_tracked_status,
                organization_id,
            }),
        }
    }
}

/// A page of `GET /events`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct EventList {
    /// At most `limit` events, and at most 1 MiB of them (always at least one).
    pub events: Vec<EventView>,
    /// Where to go on from: kept on the last page too (ask again later with it); null only when
    /// the feed has no event yet and no cursor was given.
    pub next_cursor: Option<String>,
}
