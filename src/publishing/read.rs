//! Reading: a post's downstream outcome from Ayrshare (bringing the record up to date when the
//! post has settled), and the tracking record from the database alone.

use uuid::Uuid;

use super::Publisher;
use super::error::{AppError, RecordRef};
use super::views::{PostView, TrackingView};
use crate::ayrshare::CallScope;
use crate::domain::new_post::quote;
use crate::domain::outcome::judge_status;
use crate::domain::{DeliveryFailure, Outcome, ProviderAnswer, Transition, Verdict};
use crate::store::{Caller, TrackingRecord};

impl Publisher {
    /// `GET /social/post/{post_id}`: asks Ayrshare, and brings the record up to date when the
    /// post has settled.
    pub async fn read_post(&self, caller: Caller, post_id: &str) -> Result<PostView, AppError> {
        let record = self.own_post(caller, post_id).await?;
        let (record, outcome) = self.refresh(record, post_id).await?;
        let mut response = PostView::merged(&record, &outcome);
        // What Ayrshare says now, even when the record keeps an earlier state.
        response.post_id = Some(post_id.to_owned());
        Ok(response)
    }

    /// The caller's record of the post with this Ayrshare id; another organization's post, or
    /// one never created here, is not found.
    pub(super) async fn own_post(
        &self,
        caller: Caller,
        post_id: &str,
    ) -> Result<TrackingRecord, AppError> {
        // No id of ours contains U+0000, and Postgres could not even compare one.
        if post_id.contains('\0') {
            return Err(AppError::NotFound(format!(
                "no post with id {}",
                quote(&post_id.escape_debug().to_string())
            )));
        }
        self.store
            .find_tracking_by_post_id(caller.organization_id, post_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no post with id {}", quote(post_id))))
    }

    /// Reads a post from Ayrshare and applies what the answer settles (a `Refresh` through the
    /// state machine). An answer that is not a reading of the post is an error, record unchanged.
    pub async fn refresh(
        &self,
        record: TrackingRecord,
        post_id: &str,
    ) -> Result<(TrackingRecord, Outcome), AppError> {
        let workspace = self
            .workspace(record.organization_id, Some(record.workspace_id))
            .await?;
        let scope = CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: record.platforms.iter().any(|p| p == "x"),
        };
        let answer = self.ayrshare.get_post(scope, post_id).await;
        self.apply_reading(record, answer.as_ref().map_err(|e| e.failure()))
            .await
    }

    /// Applies an authoritative reading of the record's post (the answer to `GET /post/{id}`,
    /// a webhook's payload, an item of the history: they have the same fields) through the
    /// state machine (`Refresh`). A reading that changes nothing is not written, so a repeated
    /// one (a webhook delivered twice) leaves the record exactly as it was.
    pub async fn apply_reading(
        &self,
        record: TrackingRecord,
        answer: Result<&ProviderAnswer, DeliveryFailure>,
    ) -> Result<(TrackingRecord, Outcome), AppError> {
        let answered = answer.is_ok();
        let outcome = judge_status(answer, record.tracked_status, &record.results);
        if outcome.verdict != Verdict::Accepted {
            return Err(AppError::Provider {
                record: RecordRef::new(&record, answered, &outcome.results),
                verdict: outcome.verdict,
            });
        }
        let record = if outcome.tracked_status.is_some() && changes(&record, &outcome) {
            self.record_outcome(
                record.id,
                record.tracked_status,
                Transition::Refresh,
                &outcome,
                None,
            )
            .await?
        } else {
            record
        };
        Ok((record, outcome))
    }

    /// `GET /social/post/track/{tracking_id}`: the record, from the database only.
    pub async fn read_tracking(
        &self,
        caller: Caller,
        tracking_id: &str,
    ) -> Result<TrackingView, AppError> {
        let id = Uuid::parse_str(tracking_id).map_err(|_| {
            AppError::field(
                "tracking_id",
                format!("'{}' is not a uuid", quote(tracking_id)),
            )
        })?;
        let record = self
            .store
            .find_tracking(caller.organization_id, id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no tracking record with id {id}")))?;
        Ok(record.into())
    }
}

/// Whether applying `outcome` would change anything on `record`.
fn changes(record: &TrackingRecord, outcome: &Outcome) -> bool {
    let differs = |new: &Option<String>, old: &Option<String>| new.is_some() && new != old;
    outcome.tracked_status != Some(record.tracked_status)
        || outcome.results != record.results
        || outcome.error != record.error
        || differs(&outcome.provider_post_id, &record.provider_post_id)
        || differs(&outcome.provider_status, &record.provider_status)
}
