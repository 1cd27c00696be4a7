//! Comment writes: the write-ahead record of each comment, reply or delete sent to Ayrshare
//! (claiming its idempotency key in the same statement), its outcome (with the answer replayed
//! to retries), and the reads the comment use cases need.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::types::Json;
use uuid::Uuid;

use super::rows::Column;
use super::{StoreError, StoredAnswerJson};
use crate::domain::comment_write::{CommentOp, WriteResult, WriteStatus};

/// A comment write about to be recorded (before Ayrshare is called).
#[derive(Clone, Debug)]
pub struct NewCommentWrite {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub api_key_id: Uuid,
    /// The post's tracking record.
    pub tracking_id: Uuid,
    pub provider_post_id: String,
    pub operation: CommentOp,
    /// The comment replied to or deleted.
    pub target_comment_id: Option<String>,
    /// Our names.
    pub platforms: Vec<String>,
    /// What Ayrshare is sent.
    pub request: Value,
    /// The caller's `Idempotency-Key`, claimed atomically with this insert.
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
}

/// One row of `comment_writes`.
#[derive(Clone, Debug, PartialEq)]
pub struct CommentWrite {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub api_key_id: Uuid,
    pub tracking_id: Uuid,
    pub provider_post_id: String,
    pub operation: CommentOp,
    pub target_comment_id: Option<String>,
    pub platforms: Vec<String>,
    pub request: Value,
    pub status: WriteStatus,
    pub results: Vec<WriteResult>,
    pub error: Option<Value>,
    pub provider_response: Option<Value>,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
    pub stored_answer: Option<StoredAnswerJson>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What recording a comment write found.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteInserted {
    /// Written and committed: Ayrshare may now be called.
    New(CommentWrite),
    /// The organization already holds a live claim on this key: nothing was written, and this
    /// is the write that holds it.
    Claimed(CommentWrite),
}

/// The outcome of a write, as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteRecording {
    pub status: WriteStatus,
    pub results: Vec<WriteResult>,
    pub error: Option<Value>,
    pub provider_response: Option<Value>,
}

/// The storage of comment writes. Every method is one short statement.
#[async_trait]
pub trait CommentStore: Send + Sync {
    /// Writes and commits a `pending` comment write, claiming its idempotency key in the same
    /// statement; when the organization already holds a live claim on the key, writes nothing
    /// and returns the write holding it.
    async fn insert_comment_write(
        &self,
        write: &NewCommentWrite,
    ) -> Result<WriteInserted, StoreError>;
    /// Records the outcome of a write still `pending` or `unknown` (a late answer is truer than
    /// `unknown`), with the replayable answer when given; returns the write as it is afterwards.
    async fn record_comment_outcome(
        &self,
        id: Uuid,
        recording: &WriteRecording,
        answer: Option<&StoredAnswerJson>,
    ) -> Result<Option<CommentWrite>, StoreError>;
    /// Makes a write still `pending` (its request stopped before recording Ayrshare's answer)
    /// `unknown`; returns the write as it is afterwards.
    async fn expire_comment_write(&self, id: Uuid) -> Result<Option<CommentWrite>, StoreError>;
    /// The write holding the organization's live claim on an idempotency key.
    async fn find_comment_claim(
        &self,
        organization_id: Uuid,
        key: &str,
    ) -> Result<Option<CommentWrite>, StoreError>;
    /// The post's latest writes (of the organization), newest first, at most `limit`.
    async fn list_comment_writes(
        &self,
        organization_id: Uuid,
        tracking_id: Uuid,
        limit: i64,
    ) -> Result<Vec<CommentWrite>, StoreError>;
    /// Releases up to `batch` claims made before `cutoff`; returns how many.
    async fn release_comment_claims(
        &self,
        cutoff: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError>;
}

/// The columns `CommentWriteRow` reads, in its order.
pub(super) const WRITE_COLUMNS: &str = "id, organization_id, workspace_id, api_key_id, \
     tracking_id, provider_post_id, operation, target_comment_id, platforms, request, status, \
     results, error, provider_response, idempotency_key, request_fingerprint, stored_answer, \
     created_at, updated_at";

/// The insert with its claim (`$1`..`$12`, `$13` now); nothing when the claim is held.
pub(super) fn insert_sql() -> String {
    format!(
        "insert into comment_writes (id, organization_id, workspace_id, api_key_id, tracking_id, \
             provider_post_id, operation, target_comment_id, platforms, request, status, \
             idempotency_key, idempotency_claim, request_fingerprint, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $11, $12, $13, $13) \
         on conflict (organization_id, idempotency_claim) where idempotency_claim is not null \
         do nothing \
         returning {WRITE_COLUMNS}"
    )
}

/// The outcome (`$1` id, `$2` status, `$3` results, `$4` error, `$5` response, `$6` answer,
/// `$7` now).
pub(super) fn outcome_sql() -> String {
    format!(
        "update comment_writes set status = $2, results = $3, error = $4, \
             provider_response = $5, \
             stored_answer = case when idempotency_claim is null then stored_answer \
                                  else coalesce($6, stored_answer) end, \
             updated_at = $7 \
         where id = $1 and status in ('pending', 'unknown') \
         returning {WRITE_COLUMNS}"
    )
}

/// `$1` id, `$2` now.
pub(super) fn expire_sql() -> String {
    format!(
        "update comment_writes set status = 'unknown', updated_at = $2 \
         where id = $1 and status = 'pending' returning {WRITE_COLUMNS}"
    )
}

pub(super) fn by_id_sql() -> String {
    format!("select {WRITE_COLUMNS} from comment_writes where id = $1")
}

pub(super) fn claim_sql() -> String {
    format!(
        "select {WRITE_COLUMNS} from comment_writes \
         where organization_id = $1 and idempotency_claim = $2"
    )
}

pub(super) fn list_sql() -> String {
    format!(
        "select {WRITE_COLUMNS} from comment_writes \
         where organization_id = $1 and tracking_id = $2 \
         order by created_at desc, id desc limit $3"
    )
}

/// `$1` cutoff, `$2` batch.
pub(super) const RELEASE_SQL: &str = "update comment_writes \
     set idempotency_claim = null, stored_answer = null \
     where id in (select id from comment_writes \
                  where idempotency_claim is not null and created_at < $1 \
                  order by created_at limit $2)";

#[derive(sqlx::FromRow)]
pub(super) struct CommentWriteRow<Id, List> {
    id: Id,
    organization_id: Id,
    workspace_id: Id,
    api_key_id: Id,
    tracking_id: Id,
    provider_post_id: String,
    operation: String,
    target_comment_id: Option<String>,
    platforms: List,
    request: Json<Value>,
    status: String,
    results: Json<Value>,
    error: Option<Json<Value>>,
    provider_response: Option<Json<Value>>,
    idempotency_key: Option<String>,
    request_fingerprint: Option<String>,
    stored_answer: Option<Json<Box<RawValue>>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<Id: Column<Uuid>, List: Column<Vec<String>>> TryFrom<CommentWriteRow<Id, List>>
    for CommentWrite
{
    type Error = StoreError;

    fn try_from(row: CommentWriteRow<Id, List>) -> Result<Self, StoreError> {
        Ok(CommentWrite {
            id: row.id.into_domain(),
            organization_id: row.organization_id.into_domain(),
            workspace_id: row.workspace_id.into_domain(),
            api_key_id: row.api_key_id.into_domain(),
            tracking_id: row.tracking_id.into_domain(),
            provider_post_id: row.provider_post_id,
            operation: CommentOp::parse(&row.operation)
                .ok_or_else(|| StoreError::Corrupt(format!("operation {:?}", row.operation)))?,
            target_comment_id: row.target_comment_id,
            platforms: row.platforms.into_domain(),
            request: row.request.0,
            status: WriteStatus::parse(&row.status)
                .ok_or_else(|| StoreError::Corrupt(format!("write status {:?}", row.status)))?,
            results: serde_json::from_value(row.results.0)
                .map_err(|e| StoreError::Corrupt(format!("write results: {e}")))?,
            error: row.error.map(|j| j.0),
            provider_response: row.provider_response.map(|j| j.0),
            idempotency_key: row.idempotency_key,
            request_fingerprint: row.request_fingerprint,
            stored_answer: row.stored_answer.map(|j| j.0.into()),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The JSON written to `results`.
pub(super) fn results_json(results: &[WriteResult]) -> Value {
    serde_json::to_value(results).unwrap_or_else(|_| Value::Array(Vec::new()))
}
