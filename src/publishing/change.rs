//! Sending a change of a post (`PATCH /post` or `DELETE /post`) to Ayrshare and judging its
//! answer: the part update and delete share. What each records afterwards stays with it.

use serde_json::Value;

use super::Publisher;
use super::error::{AppError, RecordRef};
use crate::domain::change::{Change, ChangeOutcome, judge_change};
use crate::store::TrackingRecord;

impl Publisher {
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
