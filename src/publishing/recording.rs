//! Recording what Ayrshare did on a tracking record (an outcome through the state machine, or a
//! change of schedule), with retries once Ayrshare has acted.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Publisher;
use crate::domain::{Outcome, TrackedStatus, Transition};
use crate::store::{StoreError, StoredAnswerJson, TrackingRecord};
use crate::telemetry::metrics;

/// How often recording is tried in all.
const ATTEMPTS: u32 = 4;

impl Publisher {
    /// Ayrshare has acted by now, so losing its answer would leave a lie in the database: a
    /// brief database hiccup is retried (the update is conditional on the state, so repeating it
    /// is safe).
    pub(super) async fn record_with_retries(
        &self,
        id: Uuid,
        from: TrackedStatus,
        transition: Transition,
        outcome: &Outcome,
        answer: Option<&StoredAnswerJson>,
    ) -> Result<TrackingRecord, String> {
        with_retries(id, || {
            self.record_outcome(id, from, transition, outcome, answer)
        })
        .await
    }

    /// Records a change Ayrshare made to a scheduled post, retried like an outcome: Ayrshare has
    /// acted.
    pub(super) async fn record_schedule_change_with_retries(
        &self,
        id: Uuid,
        schedule_date: Option<DateTime<Utc>>,
        paused: Option<bool>,
    ) -> Result<TrackingRecord, String> {
        with_retries(id, || {
            self.store.record_schedule_change(id, schedule_date, paused)
        })
        .await
    }

    /// Applies an outcome through the state machine, counting the move (from `from`, the state
    /// the record was read in) in the transition metric when the state changed. Every change of
    /// a record's state goes through here.
    pub async fn record_outcome(
        &self,
        id: Uuid,
        from: TrackedStatus,
        transition: Transition,
        outcome: &Outcome,
        answer: Option<&StoredAnswerJson>,
    ) -> Result<TrackingRecord, StoreError> {
        let record = self
            .store
            .record_outcome(id, transition, outcome, answer)
            .await?;
        // Counted only when the record now says what this outcome says: a move the state
        // machine refused (another writer got there first) is that writer's to count.
        if outcome.tracked_status == Some(record.tracked_status) && record.tracked_status != from {
            metrics::record_transition(Some(from), record.tracked_status);
        }
        Ok(record)
    }
}

/// Runs `write` until it succeeds or has been tried `ATTEMPTS` times, backing off between
/// attempts (each write is conditional on the record's state, so repeating one is safe).
async fn with_retries<F, Fut>(id: Uuid, mut write: F) -> Result<TrackingRecord, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<TrackingRecord, StoreError>>,
{
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match write().await {
            Ok(record) => return Ok(record),
            Err(e) if attempt >= ATTEMPTS => return Err(e.to_string()),
            Err(e) => {
                tracing::warn!(tracking_id = %id, attempt, error = %e, "recording the outcome failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
        }
    }
}
