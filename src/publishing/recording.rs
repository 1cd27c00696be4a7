//! Recording what Ayrshare did, with retries once Ayrshare has acted: a few quick ones while the
//! caller waits, then, while the database is unreachable, in the background until the write
//! lands. Shared by every write-ahead record (`Recording`): a tracking record's outcome through
//! the state machine or its change of schedule (`PostRecording`), a comment write's outcome.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
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

/// One write that says what Ayrshare did on the record `id`, owned so that it can be retried in
/// the background. Each must be conditional on the record's state, so that repeating one is
/// safe, and a record that has moved on (settled meanwhile) is left as it is.
#[async_trait]
pub(super) trait Recording: fmt::Debug + Send + Sync + 'static {
    /// What the write answers: the record as it is afterwards.
    type Recorded: Send;
    /// What kind of record it writes (logged).
    const KIND: &'static str;
    async fn write(&self, publisher: &Publisher, id: Uuid) -> Result<Self::Recorded, StoreError>;
    /// Where the record stands once written (logged).
    fn state(recorded: &Self::Recorded) -> String;
}

/// What Ayrshare did to a post, on its tracking record.
#[derive(Clone, Debug)]
enum PostRecording {
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
        let recording = PostRecording::Outcome {
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
        let recording = PostRecording::ScheduleChange {
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

    /// Tries `recording` `ATTEMPTS` times, backing off between attempts; when the database is
    /// still unreachable after them, hands it to `keep_recording`.
    pub(super) async fn record<R: Recording>(
        &self,
        id: Uuid,
        recording: R,
    ) -> Result<R::Recorded, String> {
        let mut wait = FIRST_WAIT;
        let mut attempt = 1;
        loop {
            match recording.write(self, id).await {
                Ok(record) => return Ok(record),
                Err(e) if attempt >= ATTEMPTS && e.is_unavailable() => {
                    self.keep_recording(id, recording, wait);
                    return Err(format!("{e}; retried in the background until it lands"));
                }
                Err(e) if attempt >= ATTEMPTS => return Err(e.to_string()),
                Err(e) => {
                    tracing::warn!(record = R::KIND, id = %id, attempt, error = %e, "recording the outcome failed; retrying");
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
    fn keep_recording<R: Recording>(&self, id: Uuid, recording: R, mut wait: Duration) {
        let publisher = self.clone();
        let work = async move {
            let grace_over = publisher.grace_over.clone();
            let mut attempts = ATTEMPTS;
            loop {
                let written = tokio::select! {
                    () = grace_over.cancelled() => None,
                    written = async {
                        tokio::time::sleep(wait).await;
                        recording.write(&publisher, id).await
                    } => Some(written),
                };
                attempts += 1;
                match written {
                    Some(Ok(record)) => {
                        tracing::info!(
                            record = R::KIND,
                            id = %id,
                            attempts,
                            state = %R::state(&record),
                            "recorded what ayrshare did, after the database was back"
                        );
                        return;
                    }
                    Some(Err(e)) if e.is_unavailable() => {
                        tracing::debug!(record = R::KIND, id = %id, attempts, error = %e, "recording still failing; retrying");
                        wait = (wait * 2).min(LONGEST_WAIT);
                    }
                    Some(Err(e)) => {
                        tracing::error!(
                            record = R::KIND,
                            id = %id,
                            error = %e,
                            recording = ?recording,
                            "the database refused to record what ayrshare did; repair the \
                             record by hand from these fields"
                        );
                        return;
                    }
                    None => {
                        tracing::error!(
                            record = R::KIND,
                            id = %id,
                            attempts,
                            recording = ?recording,
                            "shutting down before what ayrshare did could be recorded; a \
                             tracking record is settled by the reconciler after a restart, a \
                             comment write stays pending (these fields repair either by hand)"
                        );
                        return;
                    }
                }
            }
        };
        self.tasks.spawn(work.instrument(Span::current()));
    }
}

#[async_trait]
impl Recording for PostRecording {
    type Recorded = TrackingRecord;
    const KIND: &'static str = "tracking";

    async fn write(&self, publisher: &Publisher, id: Uuid) -> Result<TrackingRecord, StoreError> {
        match self {
            PostRecording::Outcome {
                from,
                transition,
                outcome,
                answer,
            } => {
                publisher
                    .record_outcome(id, *from, *transition, outcome, answer.as_ref())
                    .await
            }
            PostRecording::ScheduleChange {
                schedule_date,
                paused,
                timezone,
            } => {
                publisher
                    .store
                    .record_schedule_change(id, *schedule_date, *paused, timezone.as_deref())
                    .await
            }
        }
    }

    fn state(recorded: &TrackingRecord) -> String {
        recorded.tracked_status.to_string()
    }
}
