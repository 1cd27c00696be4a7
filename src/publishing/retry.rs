//! Retry: send a failed post once more through Ayrshare's `PUT /post/retry`, at most once per
//! post. The retry is written on the record (`failed` becomes `pending`) before Ayrshare is
//! asked, so that a lost answer leaves a record the reconciler settles, never a second send.

use std::time::Duration;

use serde_json::json;

use super::Publisher;
use super::error::{AppError, RecordRef};
use super::views::RetryView;
use crate::domain::change::Change;
use crate::domain::outcome::any_published;
use crate::domain::{TrackedStatus, Verdict};
use crate::store::{Caller, TrackingRecord};

/// How soon the reconciler first reads a retried post: Ayrshare sends it again at once, and the
/// networks take some seconds to answer. Its later checks back off as for any open record.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(30);

impl Publisher {
    /// `POST /social/post/{post_id}/retry`: for a `failed` record whose every platform failed and
    /// that was never retried, writes the retry (the record becomes `pending`), then sends
    /// Ayrshare's `PUT /post/retry` once. When Ayrshare refuses it (nothing was sent again) the
    /// record is `failed` again and may be retried later; any other outcome leaves it `pending`
    /// for the reconciler and Ayrshare's webhook to settle.
    pub async fn retry_post(&self, caller: Caller, post_id: &str) -> Result<RetryView, AppError> {
        let (this, post_id) = (self.clone(), post_id.to_owned());
        self.to_the_end(async move { this.retry_now(caller, &post_id).await })
            .await
    }

    async fn retry_now(&self, caller: Caller, post_id: &str) -> Result<RetryView, AppError> {
        let record = self.own_post(caller, post_id).await?;
        refuse_unless_retryable(&record)?;
        // One change of a record at a time: of ten retries at once, one reaches Ayrshare.
        let (record, claim) = self.claim_change(&record).await?;
        let retried = self.retry_claimed(record).await;
        self.release_change(claim).await;
        retried
    }

    async fn retry_claimed(&self, record: TrackingRecord) -> Result<RetryView, AppError> {
        refuse_unless_retryable(&record)?;
        let Some(post_id) = record.provider_post_id.clone() else {
            return Err(not_retryable(&record, "it has no Ayrshare post id".into()));
        };
        // At the precision both databases keep: the undo finds the retry by this value.
        let now = chrono::Utc::now();
        let at = chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let check_at = at + chrono::Duration::from_std(FIRST_CHECK_AFTER).unwrap_or_default();
        // The store writes the retry only once per post (`retry_requested_at`): a failed record
        // with a post id that it refuses was retried already.
        let Some(pending) = self.store.begin_retry(record.id, at, check_at).await? else {
            return Err(already_retried(&record));
        };
        let sent = self
            .apply_change(&pending, Change::Retry, &json!({ "id": post_id }))
            .await;
        match sent {
            Ok(status) => {
                tracing::info!(tracking_id = %pending.id, post_id = %post_id, "retry sent to ayrshare");
                Ok(RetryView::of(&pending, status))
            }
            Err(error) if nothing_sent(&error) => {
                // Nothing went out again: the record says `failed`, as before, and the retry is
                // not spent. Should the undo fail, the reconciler reads the post and settles the
                // record by what Ayrshare says.
                match self.store.undo_retry(pending.id, at).await {
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(tracking_id = %pending.id, error = %e, "could not undo a retry ayrshare refused; the reconciler settles the record")
                    }
                }
                Err(error)
            }
            Err(error) => {
                tracing::warn!(tracking_id = %pending.id, error = %error, "the retry's outcome is unknown; the record stays pending for the reconciler");
                Err(error)
            }
        }
    }
}

/// Whether Ayrshare's answer says the retry surely did not happen: refused, rate limited, not
/// reached, or the post unknown there. A timeout or Ayrshare's own failure may have sent it.
fn nothing_sent(error: &AppError) -> bool {
    match error {
        AppError::Conflict { .. } => true,
        AppError::Provider { verdict, .. } => matches!(
            verdict,
            Verdict::RateLimited { .. } | Verdict::Unavailable { .. } | Verdict::NotFound { .. }
        ),
        _ => false,
    }
}

/// Refuses, before anything is written or sent, a record that may not be retried.
fn refuse_unless_retryable(record: &TrackingRecord) -> Result<(), AppError> {
    if record.tracked_status != TrackedStatus::Failed {
        return Err(not_retryable(
            record,
            format!(
                "it is {}, and only a failed post is retried",
                record.tracked_status
            ),
        ));
    }
    if any_published(&record.results) {
        return Err(not_retryable(
            record,
            "some of its platforms published it; a retry could post it twice there".into(),
        ));
    }
    Ok(())
}

fn not_retryable(record: &TrackingRecord, why: String) -> AppError {
    AppError::Conflict {
        detail: format!("this post cannot be retried: {why}"),
        record: Some(RecordRef::new(record, false, &[])),
    }
}

fn already_retried(record: &TrackingRecord) -> AppError {
    AppError::Conflict {
        detail: "this post was retried already; a post is retried at most once".into(),
        record: Some(RecordRef::new(record, false, &[])),
    }
}
