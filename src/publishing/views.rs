//! What the use cases answer: the merged response of a create or a read, and the tracking
//! record as the track route shows it. Plain data; the HTTP layer serializes it as it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::outcome::links;
use crate::domain::{Link, Outcome, PlatformResult, TrackedStatus};
use crate::store::TrackingRecord;

/// The merged answer of a create, and of a read by post id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostView {
    pub post_id: Option<String>,
    pub status: String,
    pub links: Vec<Link>,
    pub results: Vec<PlatformResult>,
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
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrackingView {
    pub tracking_id: Uuid,
    pub workspace_id: Uuid,
    pub post_id: Option<String>,
    pub tracked_status: TrackedStatus,
    pub post: String,
    pub platforms: Vec<String>,
    pub media_urls: Vec<String>,
    pub schedule_date: Option<DateTime<Utc>>,
    pub links: Vec<Link>,
    pub results: Vec<PlatformResult>,
    pub error: Option<Value>,
    /// The `Idempotency-Key` the record was created with, if any.
    pub idempotency_key: Option<String>,
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
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}
