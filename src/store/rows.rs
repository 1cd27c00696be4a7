//! The rows both backends read, generic over how a backend stores uuids and lists, and their
//! conversion into the store's types: written once, so the two backends cannot drift apart.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::types::Json;
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use super::posts::{results_of, tracked_status_of};
use super::{
    ApiKeyInfo, DueRecord, EventSize, Organization, ProfileCreate, RecordSize, StoreError,
    StoredEvent, TrackingRecord, Workspace, WorkspaceInfo,
};
use crate::domain::event_feed::EventPosition;
use crate::domain::{ChangePosition, Position};

/// The columns of `scheduled_social_posts_v2`, in `TrackingRow`'s order (all but
/// `provider_response`, which the service writes and never reads: see `TrackingRecord`).
pub const TRACKING_COLUMNS: &str = "id, organization_id, workspace_id, api_key_id, post, platforms, \
     media_urls, schedule_date, extra, provider_post_id, provider_status, tracked_status, \
     results, error, idempotency_key, request_fingerprint, stored_answer, \
     ayrshare_idempotency_key, paused, overdue_at, timezone, created_at, updated_at";

/// The columns of `workspaces` that `WorkspaceRow` reads.
pub const WORKSPACE_COLUMNS: &str =
    "id, organization_id, name, is_primary, ayrshare_profile_key, profile_state";

/// The columns of `api_keys` that `ApiKeyRow` reads (never the hash).
pub const API_KEY_COLUMNS: &str =
    "id, organization_id, prefix, label, created_at, revoked_at, last_used_at";

/// The columns of `workspaces` that `WorkspaceInfoRow` reads (whether a profile key is set,
/// never the key).
pub const WORKSPACE_INFO_COLUMNS: &str = "id, name, is_primary, \
     ayrshare_profile_key is not null as has_profile_key, profile_state, created_at";

/// The columns of `workspaces` that `ProfileCreateRow` reads.
pub const PROFILE_CREATE_COLUMNS: &str =
    "id, name, idempotency_key, profile_state, profile_title, profile_ref_id";

/// A stored value that becomes a domain value: Postgres has native uuids and arrays, SQLite
/// keeps them as text and JSON.
pub trait Column<T> {
    fn into_domain(self) -> T;
}

impl Column<Uuid> for Uuid {
    fn into_domain(self) -> Uuid {
        self
    }
}

impl Column<Uuid> for Hyphenated {
    fn into_domain(self) -> Uuid {
        self.into_uuid()
    }
}

impl Column<Vec<String>> for Vec<String> {
    fn into_domain(self) -> Vec<String> {
        self
    }
}

impl Column<Vec<String>> for Json<Vec<String>> {
    fn into_domain(self) -> Vec<String> {
        self.0
    }
}

#[derive(sqlx::FromRow)]
pub struct TrackingRow<Id, List> {
    id: Id,
    organization_id: Id,
    workspace_id: Id,
    api_key_id: Id,
    post: String,
    platforms: List,
    media_urls: List,
    schedule_date: Option<DateTime<Utc>>,
    extra: Json<Value>,
    provider_post_id: Option<String>,
    provider_status: Option<String>,
    tracked_status: String,
    results: Json<Value>,
    error: Option<Json<Value>>,
    idempotency_key: Option<String>,
    request_fingerprint: Option<String>,
    stored_answer: Option<Json<Box<RawValue>>>,
    ayrshare_idempotency_key: Option<String>,
    paused: bool,
    overdue_at: Option<DateTime<Utc>>,
    timezone: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<Id: Column<Uuid>, List: Column<Vec<String>>> TryFrom<TrackingRow<Id, List>>
    for TrackingRecord
{
    type Error = StoreError;

    fn try_from(row: TrackingRow<Id, List>) -> Result<Self, StoreError> {
        Ok(TrackingRecord {
            id: row.id.into_domain(),
            organization_id: row.organization_id.into_domain(),
            workspace_id: row.workspace_id.into_domain(),
            api_key_id: row.api_key_id.into_domain(),
            post: row.post,
            platforms: row.platforms.into_domain(),
            media_urls: row.media_urls.into_domain(),
            schedule_date: row.schedule_date,
            extra: row.extra.0,
            provider_post_id: row.provider_post_id,
            provider_status: row.provider_status,
            tracked_status: tracked_status_of(&row.tracked_status)?,
            results: results_of(row.results.0)?,
            error: row.error.map(|j| j.0),
            idempotency_key: row.idempotency_key,
            request_fingerprint: row.request_fingerprint,
            stored_answer: row.stored_answer.map(|j| j.0.into()),
            ayrshare_idempotency_key: row.ayrshare_idempotency_key,
            paused: row.paused,
            overdue_at: row.overdue_at,
            timezone: row.timezone,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A claimed record with the reconciler's bookkeeping (`TRACKING_COLUMNS`, then
/// `check_attempts`).
#[derive(sqlx::FromRow)]
pub struct DueRow<Id, List> {
    #[sqlx(flatten)]
    record: TrackingRow<Id, List>,
    check_attempts: i32,
}

impl<Id: Column<Uuid>, List: Column<Vec<String>>> TryFrom<DueRow<Id, List>> for DueRecord {
    type Error = StoreError;

    fn try_from(row: DueRow<Id, List>) -> Result<Self, StoreError> {
        Ok(DueRecord {
            record: row.record.try_into()?,
            check_attempts: u32::try_from(row.check_attempts).unwrap_or(0),
        })
    }
}

/// A record's place in the list and what it costs to load (`id, created_at, bytes`).
#[derive(sqlx::FromRow)]
pub struct RecordSizeRow<Id> {
    id: Id,
    created_at: DateTime<Utc>,
    bytes: i64,
}

impl<Id: Column<Uuid>> From<RecordSizeRow<Id>> for RecordSize {
    fn from(row: RecordSizeRow<Id>) -> Self {
        RecordSize {
            position: Position {
                created_at: row.created_at,
                id: row.id.into_domain(),
            },
            bytes: u64::try_from(row.bytes).unwrap_or(0),
        }
    }
}

/// The columns of `social_post_events` that `EventRow` reads, before the record's own
/// (`TRACKING_COLUMNS`, which the event keeps as they were right after the change).
pub const EVENT_COLUMNS: &str = "event_id, type as event_type, seq, previous_tracked_status";

/// A post event: its id, type, place, and the record as the change left it.
#[derive(sqlx::FromRow)]
pub struct EventRow<Id, List> {
    event_id: String,
    event_type: String,
    change: i64,
    seq: i64,
    previous_tracked_status: Option<String>,
    #[sqlx(flatten)]
    record: TrackingRow<Id, List>,
}

impl<Id: Column<Uuid>, List: Column<Vec<String>>> TryFrom<EventRow<Id, List>> for StoredEvent {
    type Error = StoreError;

    fn try_from(row: EventRow<Id, List>) -> Result<Self, StoreError> {
        Ok(StoredEvent {
            event_id: row.event_id,
            event_type: row.event_type,
            position: EventPosition {
                change: row.change,
                seq: row.seq,
            },
            previous_tracked_status: row
                .previous_tracked_status
                .as_deref()
                .map(tracked_status_of)
                .transpose()?,
            record: row.record.try_into()?,
        })
    }
}

/// An event's place in the feed and what it costs to load (`change, seq, bytes`).
#[derive(sqlx::FromRow)]
pub struct EventSizeRow {
    change: i64,
    seq: i64,
    bytes: i64,
}

impl From<EventSizeRow> for EventSize {
    fn from(row: EventSizeRow) -> Self {
        EventSize {
            position: EventPosition {
                change: row.change,
                seq: row.seq,
            },
            bytes: u64::try_from(row.bytes).unwrap_or(0),
        }
    }
}

/// A record's place in the changes feed and what it costs to load (`id, change, bytes`).
#[derive(sqlx::FromRow)]
pub struct ChangeSizeRow<Id> {
    id: Id,
    change: i64,
    bytes: i64,
}

impl<Id: Column<Uuid>> From<ChangeSizeRow<Id>> for RecordSize<ChangePosition> {
    fn from(row: ChangeSizeRow<Id>) -> Self {
        RecordSize {
            position: ChangePosition {
                change: row.change,
                id: row.id.into_domain(),
            },
            bytes: u64::try_from(row.bytes).unwrap_or(0),
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct WorkspaceRow<Id> {
    id: Id,
    organization_id: Id,
    name: String,
    is_primary: bool,
    ayrshare_profile_key: Option<String>,
    profile_state: Option<String>,
}

impl<Id: Column<Uuid>> WorkspaceRow<Id> {
    /// The workspace, its profile key opened with `secrets` (associated data
    /// [`profile_key_aad`]). A key still in plain text (written before encryption, and not yet
    /// sealed by the startup step, see `crate::secrets_upkeep`) is read as it is.
    pub fn open(self, secrets: &crate::secrets::Secrets) -> Result<Workspace, StoreError> {
        let id = self.id.into_domain();
        let ayrshare_profile_key =
            match self.ayrshare_profile_key {
                None => None,
                Some(stored) if !crate::secrets::is_envelope(&stored) => {
                    Some(SecretString::from(stored))
                }
                Some(sealed) => Some(secrets.open(&sealed, &profile_key_aad(id)).map_err(|e| {
                    StoreError::Secret(format!("workspace {id}'s profile key: {e}"))
                })?),
            };
        Ok(Workspace {
            id,
            organization_id: self.organization_id.into_domain(),
            name: self.name,
            is_primary: self.is_primary,
            ayrshare_profile_key,
            profile_state: self.profile_state,
        })
    }
}

/// The associated data a workspace's profile key is sealed with: bound to its row, so that an
/// envelope copied to another workspace does not open.
pub fn profile_key_aad(workspace_id: Uuid) -> Vec<u8> {
    format!("workspaces.profile_key:{}", workspace_id.hyphenated()).into_bytes()
}

#[derive(sqlx::FromRow)]
pub struct WorkspaceInfoRow<Id> {
    id: Id,
    name: String,
    is_primary: bool,
    has_profile_key: bool,
    profile_state: Option<String>,
    created_at: DateTime<Utc>,
}

impl<Id: Column<Uuid>> From<WorkspaceInfoRow<Id>> for WorkspaceInfo {
    fn from(row: WorkspaceInfoRow<Id>) -> Self {
        WorkspaceInfo {
            id: row.id.into_domain(),
            name: row.name,
            is_primary: row.is_primary,
            has_profile_key: row.has_profile_key,
            profile_state: row.profile_state,
            created_at: row.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ProfileCreateRow<Id> {
    id: Id,
    name: String,
    idempotency_key: Option<String>,
    profile_state: Option<String>,
    profile_title: Option<String>,
    profile_ref_id: Option<String>,
}

impl<Id: Column<Uuid>> From<ProfileCreateRow<Id>> for ProfileCreate {
    fn from(row: ProfileCreateRow<Id>) -> Self {
        ProfileCreate {
            workspace_id: row.id.into_domain(),
            name: row.name,
            idempotency_key: row.idempotency_key,
            profile_state: row.profile_state,
            profile_title: row.profile_title,
            profile_ref_id: row.profile_ref_id,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ApiKeyRow<Id> {
    id: Id,
    organization_id: Id,
    prefix: String,
    label: Option<String>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl<Id: Column<Uuid>> From<ApiKeyRow<Id>> for ApiKeyInfo {
    fn from(row: ApiKeyRow<Id>) -> Self {
        ApiKeyInfo {
            id: row.id.into_domain(),
            organization_id: row.organization_id.into_domain(),
            prefix: row.prefix,
            label: row.label,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct OrganizationRow<Id> {
    pub id: Id,
    name: String,
    created_at: DateTime<Utc>,
}

impl<Id: Column<Uuid>> From<OrganizationRow<Id>> for Organization {
    fn from(row: OrganizationRow<Id>) -> Self {
        Organization {
            id: row.id.into_domain(),
            name: row.name,
            created_at: row.created_at,
        }
    }
}
