//! The answers of `/webhooks/endpoints`: an endpoint (never its secret), the secret shown once
//! on create and on rotation, a page of endpoints, a queued test, a redelivery, and the log of
//! attempts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::{StoredAttempt, StoredEndpoint};

/// A webhook endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    #[schema(example = "https://hooks.example.com/mosaic")]
    pub url: String,
    /// The event types it receives; null: every type.
    #[schema(example = json!(["post.posted", "post.failed"]))]
    pub event_types: Option<Vec<String>>,
    /// Only this workspace's events; null: every workspace of the organization.
    pub workspace_id: Option<Uuid>,
    pub description: Option<String>,
    /// A disabled endpoint is sent nothing; events that happen meanwhile are not queued for it
    /// (`redeliver` sends them later).
    pub disabled: bool,
    /// Why it was disabled: by the caller, by a `410 Gone`, or after failing too long.
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs beside the new one.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredEndpoint> for EndpointView {
    fn from(e: StoredEndpoint) -> Self {
        EndpointView {
            id: e.id,
            url: e.url,
            event_types: e.event_types,
            workspace_id: e.workspace_id,
            description: e.description,
            disabled: e.disabled,
            disabled_reason: e.disabled_reason,
            previous_secret_expires_at: e.previous_secret_until,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A new endpoint with its signing secret: the only answer, with the rotation's, that shows it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_` and the base64 of 32 random bytes (Standard Webhooks' format). Keep it: it is
    /// never shown again.
    #[schema(example = "whsec_…")]
    pub secret: String,
}

/// The answer of a rotation: the new secret, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RotatedSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The new secret; the old one keeps signing beside it until `previous_secret_expires_at`.
    #[schema(example = "whsec_…")]
    pub secret: String,
}

/// A page of endpoints, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct EndpointList {
    pub endpoints: Vec<EndpointView>,
    /// Pass it as `after` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A queued `webhook.test` event.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct QueuedTest {
    /// The test event's id: its `webhook-id` on delivery, and in the deliveries log.
    #[schema(example = "evt_5f0c3a8b9d2e4f6a8b1c2d3e4f5a6b7c")]
    pub event_id: String,
}

/// What a redelivery queued.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Redelivered {
    /// Deliveries queued, one per event.
    pub queued: u64,
    /// Whether the call queued as many as one call queues (1000), so that more may remain: call
    /// again with `since` at the `timestamp` of the last event received.
    pub more: bool,
}

/// One attempt to deliver an event.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AttemptView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// 1 for the first attempt at that delivery.
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The answer's status; null when none came (then `error` says why).
    pub http_status: Option<i32>,
    pub error: Option<String>,
    /// The first 1 KiB of the answer's body.
    pub response_excerpt: Option<String>,
}

impl From<StoredAttempt> for AttemptView {
    fn from(a: StoredAttempt) -> Self {
        AttemptView {
            event_id: a.event_id,
            event_type: a.event_type,
            attempt: a.attempt,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            http_status: a.http_status,
            error: a.error,
            response_excerpt: a.response_excerpt,
        }
    }
}

/// A page of the deliveries log, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AttemptList {
    pub deliveries: Vec<AttemptView>,
    /// Pass it as `after` for older attempts; null on the last page.
    pub next_cursor: Option<String>,
}
