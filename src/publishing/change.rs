//! Sending a change of a post (`PATCH /post`, `DELETE /post` or `PUT /post/retry`) to Ayrshare
//! and judging its answer, one change per record at a time: the part update, delete and retry
//! share. What each records
//! afterwards stays with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::Publisher;
use super::error::{AppError, RecordRef};
use crate::domain::change::{Change, ChangeOutcome, judge_change};
use crate::store::TrackingRecord;

/// How long a change's claim on its record outlives the create's answer deadline
/// (`AYRSHARE_TIMEOUT_SECS` + 10 s): longer than one Ayrshare call and the recording of its
/// answer take, retries included. It only matters when a process dies mid-change; the claim is
/// released as soon as the change is recorded.
pub const CHANGE_LEASE_MARGIN: Duration = Duration::from_secs(60);

/// A record claimed for one change, until `until`.
pub(super) struct ChangeClaim {
    id: Uuid,
    until: DateTime<Utc>,
}

impl Publisher {
    /// Claims `record` for one change, in the database (so across replicas): the record as it is
    /// now, to decide on, or a 409 `conflict` while another change of it is in flight. The
    /// claim must be given back with `release_change` once the change is recorded.
    pub(super) async fn claim_change(
        &self,
        record: &TrackingRecord,
    ) -> Result<(TrackingRecord, ChangeClaim), AppError> {
        let now = Utc::now();
        // At the precision both databases keep: the release finds the claim by this value.
        let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let lease = self.settings.answer_deadline() + CHANGE_LEASE_MARGIN;
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        match self.store.claim_change(record.id, now, until).await? {
            Some(claimed) => Ok((
                claimed,
                ChangeClaim {
                    id: record.id,
                    until,
                },
            )),
            None => Err(AppError::Conflict {
                detail: "another change of this post (an update or a delete) is in flight; \
                         retry in a moment"
                    .into(),
                record: Some(RecordRef::new(record, false, &[])),
            }),
        }
    }

    /// Gives a claim back. Should that fail, the claim expires by itself.
    pub(super) async fn release_change(&self, claim: ChangeClaim) {
        if let Err(e) = self.store.release_change(claim.id, claim.until).await {
            tracing::warn!(
                tracking_id = %claim.id,
                until = %claim.until,
                error = %e,
                "could not release the record's change claim; it expires by itself"
            );
        }
    }

    /// Sends `change` with `body` once, in the scope of the record's workspace, and judges the
    /// answer: Ayrshare's status word when it made the change, a conflict when it refused it
    /// (nothing changed there), or the provider error when no change could be confirmed. Records
    /// nothing.
    pub(super) async fn apply_change(
        &self,
        record: &TrackingRecord,
        change: Change,
        body: &Value,
    ) -> Result<String, AppError> {
        let workspace = self.workspace_of(record).await?;
        let scope = self.scope_of(record, &workspace, None);
        let answer = match change {
            Change::Update => self.ayrshare.update_post(scope, body).await,
            Change::Delete => self.ayrshare.delete_post(scope, body).await,
            Change::Retry => self.ayrshare.retry_post(scope, body).await,
        };
        match judge_change(answer.as_ref().map_err(|e| e.failure()), change) {
            ChangeOutcome::Done { status } => Ok(status),
            ChangeOutcome::Refused { detail } => Err(AppError::Conflict {
                detail,
                record: Some(RecordRef::new(record, false, &[])),
            }),
            ChangeOutcome::Failed(verdict) => Err(AppError::Provider {
                verdict,
                record: RecordRef::new(record, false, &[]),
            }),
        }
    }
}
