//! What the use cases answer: the merged response of a create or a read, the tracking record
//! as the track route (and the list) shows it, the answers of the changes, the analytics and
//! whoami. Plain data; the HTTP layer serializes it as it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::analytics::{PlatformAnalytics, PlatformError};
use crate::domain::outcome::links;
use crate::domain::{Link, Outcome, PlatformResult, TrackedStatus};
use crate::store::{ApiKeyInfo, Organization, TrackingRecord, WorkspaceInfo};

/// The merged answer of a create, and of a read by post id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PostView {
    #[schema(required = true)]
    pub post_id: Option<String>,
    pub status: String,
    pub links: Vec<Link>,
    pub results: Vec<PlatformResult>,
    #[schema(required = true)]
    pub error: Option<Value>,
    pub tracking_id: Uuid,
    pub tracked_status: TrackedStatus,
}

impl PostView {
    /// Ayrshare's answer, with our tracking fields; `tracked_status` is the record's.
    pub fn merged(record: &TrackingRecord, outcome: &Outcome) -> PostView {
        PostView::of(
            record.id,
            record.tracked_status,
            record.provider_post_id.as_deref(),
            outcome,
        )
    }

    /// The same from the parts, for an answer built before the record is read back.
    pub fn of(
        tracking_id: Uuid,
        tracked_status: TrackedStatus,
        recorded_post_id: Option<&str>,
        outcome: &Outcome,
    ) -> PostView {
        let status = outcome.provider_status.clone().unwrap_or_else(|| {
            match outcome.tracked_status.unwrap_or(tracked_status) {
                TrackedStatus::Scheduled => "scheduled",
                TrackedStatus::Posted => "success",
                _ => "error",
            }
            .to_owned()
        });
        PostView {
            post_id: outcome
                .provider_post_id
                .clone()
                .or_else(|| recorded_post_id.map(str::to_owned)),
            status,
            links: links(&outcome.results),
            results: outcome.results.clone(),
            error: outcome.error.clone(),
            tracking_id,
            tracked_status,
        }
    }
}

/// The tracking record as `GET /social/post/track/{id}` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct TrackingView {
    pub tracking_id: Uuid,
    pub workspace_id: Uuid,
    #[schema(required = true)]
    pub post_id: Option<String>,
    pub tracked_status: TrackedStatus,
    pub post: String,
    pub platforms: Vec<String>,
    pub media_urls: Vec<String>,
    #[schema(required = true)]
    pub schedule_date: Option<DateTime<Utc>>,
    pub links: Vec<Link>,
    pub results: Vec<PlatformResult>,
    #[schema(required = true)]
    pub error: Option<Value>,
    /// The `Idempotency-Key` the record was created with, if any.
    #[schema(required = true)]
    pub idempotency_key: Option<String>,
    /// Whether the scheduled post is paused (through `PATCH`).
    pub paused: bool,
    /// When the reconciler first found the scheduled post still unpublished well after its
    /// `schedule_date` (`docs/reconciler.md`); `null` otherwise.
    #[schema(required = true)]
    pub overdue_at: Option<DateTime<Utc>>,
    /// The IANA time zone `schedule_date` was given in (`Europe/Berlin`), by the create or the
    /// latest reschedule; `null` when it was given without one. `schedule_date` itself is
    /// always UTC, as Ayrshare received it.
    #[schema(required = true)]
    pub timezone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TrackingRecord> for TrackingView {
    fn from(record: TrackingRecord) -> Self {
        TrackingView {
            tracking_id: record.id,
            workspace_id: record.workspace_id,
            links: links(&record.results),
            post_id: record.provider_post_id,
            tracked_status: record.tracked_status,
            post: record.post,
            platforms: record.platforms,
            media_urls: record.media_urls,
            schedule_date: record.schedule_date,
            results: record.results,
            error: record.error,
            idempotency_key: record.idempotency_key,
            paused: record.paused,
            overdue_at: record.overdue_at,
            timezone: record.timezone,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// A page of `GET /social/posts`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct PostList {
    /// At most `limit` records, and at most 1 MiB of them (always at least one): a page can be
    /// shorter than `limit` while `next_cursor` is set.
    pub posts: Vec<TrackingView>,
    /// Where the next page starts; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The answer of `PATCH /social/post/{post_id}`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct UpdateView {
    pub post_id: String,
    /// Ayrshare's status word for the update (`success`).
    pub status: String,
    pub tracking_id: Uuid,
    pub tracked_status: TrackedStatus,
    #[schema(required = true)]
    pub schedule_date: Option<DateTime<Utc>>,
    /// The IANA time zone the record keeps with `schedule_date` (see the track answer).
    #[schema(required = true)]
    pub timezone: Option<String>,
}

/// The answer of `DELETE /social/post/{post_id}`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DeletionView {
    pub post_id: String,
    /// Ayrshare's status word for the delete (`success`), or `deleted` when the post was
    /// already cancelled or deleted here and Ayrshare was not asked again.
    pub status: String,
    pub tracking_id: Uuid,
    pub tracked_status: TrackedStatus,
}

/// The answer of `POST /social/post/{post_id}/retry` (202): the retry was sent, its outcome
/// comes later, as a scheduled post's does.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RetryView {
    pub post_id: String,
    /// Ayrshare's status word for the retry (`success`).
    pub status: String,
    pub tracking_id: Uuid,
    /// `pending` until the reconciler or Ayrshare's webhook learns the outcome.
    pub tracked_status: TrackedStatus,
    pub message: String,
}

impl RetryView {
    pub(super) fn of(record: &TrackingRecord, status: String) -> RetryView {
        RetryView {
            post_id: record.provider_post_id.clone().unwrap_or_default(),
            status,
            tracking_id: record.id,
            tracked_status: record.tracked_status,
            message:
                "ayrshare is sending the post again; follow GET /social/post/track/{tracking_id} \
                      or the post.* events for the outcome"
                    .into(),
        }
    }
}

/// The answer of `GET /social/post/{post_id}/analytics`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AnalyticsView {
    pub post_id: String,
    pub tracking_id: Uuid,
    pub platforms: Vec<PlatformAnalytics>,
    /// The platforms asked for that have no numbers, with Ayrshare's reason.
    pub errors: Vec<PlatformError>,
}

/// The answer of `GET /whoami`: never a key, never a profile key.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct WhoamiView {
    pub organization: OrganizationView,
    pub api_key: ApiKeyView,
    /// One page of the workspaces (at most 100), primary first, then oldest first.
    pub workspaces: Vec<WorkspaceView>,
    /// Pass it back as `?workspaces_cursor=` for the next page of workspaces; null on the last.
    #[schema(required = true)]
    pub workspaces_next_cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
}

impl From<Organization> for OrganizationView {
    fn from(organization: Organization) -> Self {
        OrganizationView {
            id: organization.id,
            name: organization.name,
        }
    }
}

/// The calling key: its prefix (`mk_` and 8 characters), never the key.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub prefix: String,
    #[schema(required = true)]
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyInfo> for ApiKeyView {
    fn from(key: ApiKeyInfo) -> Self {
        ApiKeyView {
            id: key.id,
            prefix: key.prefix,
            label: key.label,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// A workspace: whether it has an Ayrshare profile key, never the key.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: Uuid,
    pub name: String,
    pub is_primary: bool,
    pub has_profile_key: bool,
}

impl From<WorkspaceInfo> for WorkspaceView {
    fn from(workspace: WorkspaceInfo) -> Self {
        WorkspaceView {
            id: workspace.id,
            name: workspace.name,
            is_primary: workspace.is_primary,
            has_profile_key: workspace.has_profile_key,
        }
    }
}
