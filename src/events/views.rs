//! The answers of the events family: an event as Standard Webhooks' payload structure has it
//! (`id`, `type`, `timestamp`, `data`), and a page of the feed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::TrackedStatus;
use crate::publishing::TrackingView;
use crate::store::StoredEvent;

/// One event: what changed, when, and the record as the change left it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct EventView {
    /// `evt_` and 32 hex digits; the same on every delivery and in the feed.
    pub id: String,
    /// `post.scheduled`, `post.posted`, `post.partial`, `post.failed`, `post.unknown`,
    /// `post.cancelled`, `post.deleted` or `post.overdue`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change happened (the record's `updated_at` after it).
    pub timestamp: DateTime<Utc>,
    pub data: EventData,
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

impl From<StoredEvent> for EventView {
    fn from(event: StoredEvent) -> Self {
        let organization_id = event.record.organization_id;
        let timestamp = event.record.updated_at;
        EventView {
            id: event.event_id,
            event_type: event.event_type,
            timestamp,
            data: EventData {
                record: TrackingView::from(event.record),
                previous_tracked_status: event.previous_tracked_status,
                organization_id,
            },
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
