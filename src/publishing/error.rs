//! `AppError`: every way a use case can end other than as planned, typed and free of HTTP. The
//! HTTP layer maps each variant to a status and a code in one table (`http::error`).

use serde::{Deserialize, Serialize};

use crate::domain::comment_write::{WriteResult, WriteStatus};
use crate::domain::{FieldError, PlatformResult, TrackedStatus, ValidationErrors, Verdict};
use crate::store::{StoreError, TrackingRecord};

/// Where a provider-side failure left the tracking record, so the caller can always find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub tracking_id: uuid::Uuid,
    pub tracked_status: TrackedStatus,
    pub post_id: Option<String>,
    /// Present when Ayrshare answered.
    pub results: Option<Vec<PlatformResult>>,
}

impl RecordRef {
    /// The reference to a record, with the results Ayrshare reported if it answered.
    pub fn new(record: &TrackingRecord, answered: bool, results: &[PlatformResult]) -> RecordRef {
        RecordRef {
            tracking_id: record.id,
            tracked_status: record.tracked_status,
            post_id: record.provider_post_id.clone(),
            results: answered.then(|| results.to_vec()),
        }
    }
}

/// Where a comment write's failure left its record (`comment_writes`), so that the caller can
/// tell a write that surely did nothing (`failed`) from one that may have been done (`unknown`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRef {
    pub write_id: uuid::Uuid,
    pub write_status: WriteStatus,
    /// The post's tracking record and Ayrshare post id.
    pub tracking_id: uuid::Uuid,
    pub post_id: String,
    /// Present when Ayrshare answered with per-platform parts.
    pub results: Option<Vec<WriteResult>>,
}

/// The record holding an idempotency claim: a post's tracking record, or a comment write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimHolder {
    Tracking(uuid::Uuid),
    CommentWrite(uuid::Uuid),
}

impl ClaimHolder {
    /// The answer's field that names the holder, and its id.
    pub fn field(self) -> (&'static str, uuid::Uuid) {
        match self {
            ClaimHolder::Tracking(id) => ("tracking_id", id),
            ClaimHolder::CommentWrite(id) => ("write_id", id),
        }
    }

    /// What a new request should be, in the mismatch's advice.
    pub fn what(self) -> &'static str {
        match self {
            ClaimHolder::Tracking(_) => "post",
            ClaimHolder::CommentWrite(_) => "comment write",
        }
    }
}

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed; nothing was written.
    #[error("{}", .0.detail())]
    Validation(ValidationErrors),
    /// No valid API key.
    #[error("{0}")]
    InvalidApiKey(&'static str),
    /// A webhook delivery whose signature or timestamp does not check out; nothing was done.
    #[error("{0}")]
    InvalidSignature(String),
    /// Nothing of the caller's by that name (another organization's things included).
    #[error("{0}")]
    NotFound(String),
    /// The thing exists but is not in a state that allows the change.
    #[error("{detail}")]
    Conflict {
        detail: String,
        record: Option<RecordRef>,
    },
    /// Ayrshare's answer (or its absence) after the record was written.
    #[error("ayrshare: {verdict:?}")]
    Provider { verdict: Verdict, record: RecordRef },
    /// Ayrshare's answer (or its absence) to a comment write, after its record was written.
    #[error("ayrshare: {verdict:?}")]
    CommentProvider {
        verdict: Verdict,
        write: Box<WriteRef>,
    },
    /// Ayrshare's failure on a call that wrote nothing here (the dry run): no record to name.
    #[error("ayrshare: {verdict:?}")]
    ProviderUnrecorded { verdict: Verdict },
    /// This service refuses to call Ayrshare for now (our own hold-off or a caller's limit).
    #[error("{detail}")]
    RateLimited {
        detail: String,
        retry_after_secs: u64,
    },
    /// The same idempotency key came with another request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyMismatch { holder: ClaimHolder },
    /// The first request with this idempotency key has not finished yet, or stopped before it
    /// recorded Ayrshare's answer (`interrupted`: its record is still `pending` past its
    /// deadline, and the reconciler will settle it).
    #[error("{}", if *.interrupted {
        "the first request with this Idempotency-Key stopped before it recorded ayrshare's \
         answer; the service is finding out what became of the post, and never sends it again"
    } else {
        "a request with this Idempotency-Key is still in progress"
    })]
    IdempotencyInProgress {
        holder: ClaimHolder,
        retry_after_secs: u64,
        interrupted: bool,
    },
    /// A feature needs a setting this deployment lacks (the message names it); nothing was
    /// written.
    #[error("{0}")]
    NotConfigured(String),
    /// Our database cannot be reached; nothing was sent to Ayrshare.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Something failed on our side; the source is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// The tracking record could not be brought up to date after Ayrshare answered.
    #[error("the outcome could not be recorded: {cause}")]
    Unrecorded { cause: String, record: RecordRef },
}

impl AppError {
    /// A validation error about one field.
    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Validation(ValidationErrors::one(FieldError::new(field, message)))
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            AppError::Unavailable(error.to_string())
        } else {
            AppError::Internal(error.to_string())
        }
    }
}
