//! Recording what Ayrshare did on a tracking record (an outcome through the state machine, or a
//! change of schedule), with retries once Ayrshare has acted: a few quick ones while the caller
//! waits, then, while the database is unreachable, in the background until the write lands.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{Instrument, Span};
use uuid::Uuid;

use super::Publisher;
use crate::domain::{Outcome, TrackedStatus, Transition};
use crate::store::{StoreError, StoredAnswerJson, TrackingRecord};
use crate::telemetry::metrics;

/// How often recording is tried while the caller waits.
const ATTEMPTS: u32 = 4;
/// The first wait between two attempts; it doubles after each.
const FIRST_WAIT: Duration = Duration::from_millis(100);
/// The longest wait between two attempts in the background.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// One write that says what Ayrshare did, owned so that it can be retried in the background.
/// Each is conditional on the record's state, so repeating one is safe, and a record that has
/// moved on (the reconciler settled it meanwhile) is left as it is.
#[derive(Clone, Debug)]
enum Recording {
    Outcome {
        from: TrackedStatus,
        transition: Transition,
        outcome: Box<Outcome>,
        answer: Option<StoredAnswerJson>,
    },
    ScheduleChange {
        schedule_date: Option<DateTime<Utc>>,
        paused: Option<bool>,
        timezone: Option<String>,
    },
}

impl Publisher {
    /// Ayrshare has acted by now, so losing its answer would leave a lie in the database: a
    /// brief database hiccup is retried, and a database that cannot be reached is retried in
    /// the background until the write lands (the error says so).
    pub(super) async fn record_with_retries(
        &self,
        id: Uuid,
        from: TrackedStatus,
        transition: Transition,
        outcome: &Outcome,
        answer: Option<&StoredAnswerJson>,
    ) -> Result<TrackingRecord, String> {
        let recording = Recording::Outcome {
            from,
            transition,
            outcome: Box::new(outcome.clone()),
            answer: answer.cloned(),
        };
        self.record(id, recording).await
    }

    /// Records a change Ayrshare made to a scheduled post, retried like an outcome: Ayrshare has
    /// acted.
    pub(super) async fn record_schedule_change_with_retries(
        &self,
        id: Uuid,
        schedule_date: Option<DateTime<Utc>>,
        paused: Option<bool>,
        timezone: Option<String>,
    ) -> Result<TrackingRecord, String> {
        let recording = Recording::ScheduleChange {
            schedule_date,
            paused,
            timezone,
        };
        self.record(id, recording).await
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
        // A platform Ayrshare says is not linked (code 156) is not connected, whatever the
        // stored state said: the connections family updates it, off this path.
        crate::connections::note_refused_post(
            &self.store,
            &self.tasks,
            record.organization_id,
            record.workspace_id,
            outcome.error.as_ref(),
        );
        Ok(record)
    }

    async fn write(&self, id: Uuid, recording: &Recording) -> Result<TrackingRecord, StoreError> {
        match recording {
            Recording::Outcome {
                from,
                transition,
                outcome,
                answer,
            } => {
                self.record_outcome(id, *from, *transition, outcome, answer.as_ref())
                    .await
            }
            Recording::ScheduleChange {
                schedule_date,
                paused,
                timezone,
            } => {
                self.store
                    .record_schedule_change(id, *schedule_date, *paused, timezone.as_deref())
                    .await
            }
        }
    }

    /// Tries `recording` `ATTEMPTS` times, backing off between attempts; when the database is
    /// still unreachable after them, hands it to `keep_recording`.
    async fn record(&self, id: Uuid, recording: Recording) -> Result<TrackingRecord, String> {
        let mut wait = FIRST_WAIT;
        let mut attempt = 1;
        loop {
            match self.write(id, &recording).await {
                Ok(record) => return Ok(record),
                Err(e) if attempt >= ATTEMPTS && e.is_unavailable() => {
                    self.keep_recording(id, recording, wait);
                    return Err(format!("{e}; retried in the background until it lands"));
                }
                Err(e) if attempt >= ATTEMPTS => return Err(e.to_string()),
                Err(e) => {
                    tracing::warn!(tracking_id = %id, attempt, error = %e, "recording the outcome failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// Retries `recording` in a task of its own (on `tasks`, in this span) until it lands,
    /// waiting from `wait` doubling to `LONGEST_WAIT` between attempts; each attempt is bounded
    /// by the store's call deadline. Gives up, and says so, when the database answers with an
    /// error of its own, or at shutdown once its grace has passed: the reconciler then settles
    /// the record (its create's answer deadline has passed, so it is due).
    fn keep_recording(&self, id: Uuid, recording: Recording, mut wait: Duration) {
        let publisher = self.clone();
        let work = async move {
            let grace_over = publisher.grace_over.clone();
            let mut attempts = ATTEMPTS;
            loop {
                let written = tokio::select! {
                    () = grace_over.cancelled() => None,
                    written = async {
                        tokio::time::sleep(wait).await;
                        publisher.write(id, &recording).await
                    } => Some(written),
                };
                attempts += 1;
                match written {
                    Some(Ok(record)) => {
                        tracing::info!(
                            tracking_id = %id,
                            attempts,
                            tracked_status = %record.tracked_status,
                            "recorded what ayrshare did, after the database was back"
                        );
                        return;
                    }
                    Some(Err(e)) if e.is_unavailable() => {
                        tracing::debug!(tracking_id = %id, attempts, error = %e, "recording still failing; retrying");
                        wait = (wait * 2).min(LONGEST_WAIT);
                    }
                    Some(Err(e)) => {
                        tracing::error!(
                            tracking_id = %id,
                            error = %e,
                            recording = ?recording,
                            "the database refused to record what ayrshare did; repair the \
                             tracking record by hand from these fields"
                        );
                        return;
                    }
                    None => {
                        tracing::error!(
                            tracking_id = %id,
                            attempts,
                            recording = ?recording,
                            "shutting down before what ayrshare did could be recorded; the \
                             reconciler settles the record after a restart (these fields \
                             repair it by hand)"
                        );
                        return;
                    }
                }
            }
        };
        self.tasks.spawn(work.instrument(Span::current()));
    }
}
