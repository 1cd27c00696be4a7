//! Update: reschedule, pause or resume, annotate or approve a post Ayrshare holds (one change of
//! a record at a time), and keep the record's schedule date and pause in step with it.

use chrono::Utc;
use serde_json::Value;

use super::Publisher;
use super::error::{AppError, RecordRef};
use super::views::UpdateView;
use crate::domain::change::Change;
use crate::domain::{PostUpdate, TrackedStatus};
use crate::store::{Caller, TrackingRecord};

impl Publisher {
    /// `PATCH /social/post/{post_id}`: validates, checks that a reschedule or a pause is about a
    /// post still scheduled (else a conflict, with nothing sent), sends Ayrshare's `PATCH /post`
    /// once, and records the new schedule date and pause once Ayrshare made the change.
    pub async fn update_post(
        &self,
        caller: Caller,
        post_id: &str,
        body: Value,
    ) -> Result<UpdateView, AppError> {
        let (this, post_id) = (self.clone(), post_id.to_owned());
        self.to_the_end(async move { this.update_now(caller, &post_id, body).await })
            .await
    }

    async fn update_now(
        &self,
        caller: Caller,
        post_id: &str,
        body: Value,
    ) -> Result<UpdateView, AppError> {
        let update = PostUpdate::parse(body, Utc::now()).map_err(AppError::Validation)?;
        let record = self.own_post(caller, post_id).await?;
        // One change of a record at a time, judged from the record as claimed.
        let (record, claim) = self.claim_change(&record).await?;
        let updated = self.update_claimed(post_id, &update, record).await;
        self.release_change(claim).await;
        updated
    }

    /// The update, once the record is claimed for it.
    async fn update_claimed(
        &self,
        post_id: &str,
        update: &PostUpdate,
        record: TrackingRecord,
    ) -> Result<UpdateView, AppError> {
        if update.needs_scheduled() && record.tracked_status != TrackedStatus::Scheduled {
            return Err(AppError::Conflict {
                detail: format!(
                    "only a scheduled post can be rescheduled, paused or resumed; this one is {}",
                    record.tracked_status
                ),
                record: Some(RecordRef::new(&record, false, &[])),
            });
        }
        let status = self
            .apply_change(&record, Change::Update, &update.ayrshare_body(post_id))
            .await?;
        let record = if update.needs_scheduled() {
            self.record_schedule_change_with_retries(
                record.id,
                update.schedule_date,
                update.scheduled_pause,
                update.timezone.clone(),
            )
            .await
            .map_err(|cause| {
                tracing::error!(
                    tracking_id = %record.id,
                    error = %cause,
                    schedule_date = ?update.schedule_date,
                    paused = ?update.scheduled_pause,
                    "ayrshare made the change but the tracking record could not be updated \
                     in time; when the database was unreachable it is retried in the \
                     background until it lands, else repair it by hand from these fields"
                );
                AppError::Unrecorded {
                    cause,
                    record: RecordRef::new(&record, false, &[]),
                }
            })?
        } else {
            record
        };
        tracing::info!(tracking_id = %record.id, "post updated at ayrshare");
        Ok(UpdateView {
            post_id: post_id.to_owned(),
            status,
            tracking_id: record.id,
            tracked_status: record.tracked_status,
            schedule_date: record.schedule_date,
            timezone: record.timezone,
        })
    }
}
