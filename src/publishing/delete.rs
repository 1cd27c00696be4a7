//! Delete: cancel a scheduled post or delete a published one at Ayrshare (one change of a record
//! at a time), and move the record to `cancelled` or `deleted` through the state machine.

use serde_json::Value;

use super::Publisher;
use super::error::{AppError, RecordRef};
use super::views::DeletionView;
use crate::domain::change::Change;
use crate::domain::outcome::any_published;
use crate::domain::{Outcome, PostDeletion, TrackedStatus, Transition, Verdict};
use crate::store::{Caller, TrackingRecord};

impl Publisher {
    /// `DELETE /social/post/{post_id}`: a record already `cancelled` or `deleted` is answered as
    /// it is, without asking Ayrshare again; otherwise Ayrshare's `DELETE /post` is sent once and,
    /// when Ayrshare did it, the record becomes `cancelled` (the post never went out) or
    /// `deleted` (it did). A refusal changes nothing.
    pub async fn delete_post(
        &self,
        caller: Caller,
        post_id: &str,
        body: Option<Value>,
    ) -> Result<DeletionView, AppError> {
        let (this, post_id) = (self.clone(), post_id.to_owned());
        self.to_the_end(async move { this.delete_now(caller, &post_id, body).await })
            .await
    }

    async fn delete_now(
        &self,
        caller: Caller,
        post_id: &str,
        body: Option<Value>,
    ) -> Result<DeletionView, AppError> {
        let deletion = PostDeletion::parse(body).map_err(AppError::Validation)?;
        let record = self.own_post(caller, post_id).await?;
        if removed(&record) {
            return Ok(view(post_id, "deleted".into(), &record));
        }
        // One change of a record at a time: of ten deletes at once, one reaches Ayrshare.
        let (record, claim) = self.claim_change(&record).await?;
        let deleted = self.delete_claimed(post_id, &deletion, record).await;
        self.release_change(claim).await;
        deleted
    }

    /// The deletion, once the record is claimed for it, judged from the record as claimed.
    async fn delete_claimed(
        &self,
        post_id: &str,
        deletion: &PostDeletion,
        record: TrackingRecord,
    ) -> Result<DeletionView, AppError> {
        // Another change may have removed it between the read and the claim.
        if removed(&record) {
            return Ok(view(post_id, "deleted".into(), &record));
        }
        // A record whose create is still waiting for Ayrshare's answer has no state to leave.
        if let Some(target) = removal_of(&record) {
            if !target.may_follow(record.tracked_status, Transition::for_removal(target)) {
                return Err(AppError::Conflict {
                    detail: format!(
                        "the post is still {}: its create has not been answered yet; retry in a \
                         moment",
                        record.tracked_status
                    ),
                    record: Some(RecordRef::new(&record, false, &[])),
                });
            }
        }
        let status = self
            .apply_change(&record, Change::Delete, &deletion.ayrshare_body(post_id))
            .await?;
        let record = self.record_removal(record).await?;
        tracing::info!(
            tracking_id = %record.id,
            tracked_status = %record.tracked_status,
            "post deleted at ayrshare"
        );
        Ok(view(post_id, status, &record))
    }

    /// Moves the record to where a deletion takes it. If something moved it meanwhile (a
    /// scheduled post found published), the deletion is judged once more from its new state.
    async fn record_removal(&self, mut record: TrackingRecord) -> Result<TrackingRecord, AppError> {
        for _ in 0..2 {
            let Some(target) = removal_of(&record) else {
                // A failed post that never went out stays failed.
                return Ok(record);
            };
            let outcome = Outcome {
                tracked_status: Some(target),
                open: None,
                provider_post_id: None,
                provider_status: Some("deleted".into()),
                // What was published stays on the record.
                results: record.results.clone(),
                error: record.error.clone(),
                provider_response: None,
                verdict: Verdict::Accepted,
            };
            let before = record.clone();
            record = self
                .record_with_retries(
                    record.id,
                    record.tracked_status,
                    Transition::for_removal(target),
                    &outcome,
                    None,
                )
                .await
                .map_err(|cause| {
                    tracing::error!(
                        tracking_id = %before.id,
                        error = %cause,
                        tracked_status = %target,
                        "ayrshare deleted the post but the tracking record could not be \
                         updated in time; when the database was unreachable it is retried in \
                         the background until it lands, else repair it by hand from these fields"
                    );
                    AppError::Unrecorded {
                        cause,
                        record: RecordRef::new(&before, false, &[]),
                    }
                })?;
            if removed(&record) {
                break;
            }
        }
        Ok(record)
    }
}

/// Whether the record is already `cancelled` or `deleted`: Ayrshare is not asked again.
fn removed(record: &TrackingRecord) -> bool {
    matches!(
        record.tracked_status,
        TrackedStatus::Cancelled | TrackedStatus::Deleted
    )
}

/// Where a deletion takes this record, if anywhere.
fn removal_of(record: &TrackingRecord) -> Option<TrackedStatus> {
    record
        .tracked_status
        .removed(any_published(&record.results))
}

fn view(post_id: &str, status: String, record: &TrackingRecord) -> DeletionView {
    DeletionView {
        post_id: post_id.to_owned(),
        status,
        tracking_id: record.id,
        tracked_status: record.tracked_status,
    }
}
