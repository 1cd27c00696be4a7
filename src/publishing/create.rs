//! Create: the write-ahead record (claiming the idempotency key in the same statement), the one
//! Ayrshare call, and the recording of what came of it (with the answer replayed to retries).

use std::borrow::Cow;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::error::{AppError, ClaimHolder, RecordRef};
use super::views::PostView;
use super::write_once::{Holder, KeptAnswer, Progress, Replay, replay_of};
use super::{Answer, Publisher};
use crate::ayrshare::CallScope;
use crate::domain::idempotency::{self, IdempotencyKey};
use crate::domain::outcome::judge_create;
use crate::domain::{NewPost, Outcome, TrackedStatus, Transition, Verdict};
use crate::store::{Caller, Inserted, NewTracking, StoredAnswerJson, TrackingRecord, Workspace};
use crate::telemetry::metrics::{self, RefusalKind};

/// The answer kept on the record for retries with the same `Idempotency-Key`: the use case's
/// own typed answer, so that a replay is rendered by the same code as the first answer. Borrowed
/// when it is stored (serialized straight from the answer), owned when it is replayed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StoredAnswer<'a> {
    Created {
        response: Cow<'a, PostView>,
    },
    Refused {
        verdict: Cow<'a, Verdict>,
        record: Cow<'a, RecordRef>,
    },
}

impl KeptAnswer for StoredAnswer<'_> {
    /// Whether the answer tells how the create ended: one given while the record was still
    /// `pending` or `unknown` does not (the post may or may not have gone out).
    fn is_final(&self) -> bool {
        let tracked_status = match self {
            StoredAnswer::Created { response } => response.tracked_status,
            StoredAnswer::Refused { record, .. } => record.tracked_status,
        };
        settled(tracked_status)
    }
}

impl StoredAnswer<'_> {
    /// The answer to keep for `result`, as the store keeps it (`None`: nothing to replay).
    fn of(result: &Result<PostView, AppError>) -> Option<StoredAnswerJson> {
        let answer = match result {
            Ok(response) => StoredAnswer::Created {
                response: Cow::Borrowed(response),
            },
            Err(AppError::Provider { verdict, record }) => StoredAnswer::Refused {
                verdict: Cow::Borrowed(verdict),
                record: Cow::Borrowed(record),
            },
            Err(_) => return None,
        };
        StoredAnswerJson::of(&answer).ok()
    }

    fn into_result(self) -> Result<PostView, AppError> {
        match self {
            StoredAnswer::Created { response } => Ok(response.into_owned()),
            StoredAnswer::Refused { verdict, record } => Err(AppError::Provider {
                verdict: verdict.into_owned(),
                record: record.into_owned(),
            }),
        }
    }
}

/// What the publishing task ended with.
enum Published {
    /// This request wrote the record and called Ayrshare.
    Done(Result<PostView, AppError>),
    /// Another request holds the idempotency key.
    Claimed(Box<TrackingRecord>),
}

impl Publisher {
    /// `POST /social/post`: validates, writes the record, sends the post to Ayrshare once,
    /// records the outcome. With an idempotency key, a retry gets the first answer back.
    pub async fn create(
        &self,
        caller: Caller,
        body: Value,
        key: Option<IdempotencyKey>,
    ) -> Result<Answer<PostView>, AppError> {
        let new_post = NewPost::parse(body, Utc::now()).map_err(AppError::Validation)?;
        let workspace = self
            .sending_workspace(caller.organization_id, new_post.workspace_id)
            .await?;
        // A profile Ayrshare is rate limiting is answered here, before a record is written: a
        // call now would only collect another 429 (and too many suspend the profile).
        if let Some(wait) = self.ayrshare.held_off(CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: new_post.involves_x(),
        }) {
            // A retry of a request that already has its answer still gets that answer.
            if let Some(key) = &key {
                if let Some(holder) = self
                    .store
                    .find_claim(caller.organization_id, key.as_str())
                    .await?
                {
                    let fingerprint =
                        request_fingerprint(&new_post, &new_post.ayrshare_body(), workspace.id);
                    return self.replay(holder, Some(&fingerprint)).await;
                }
            }
            metrics::rate_limit_refused(RefusalKind::AyrshareProfile);
            let retry_after_secs = crate::ayrshare::retry_after_secs(wait);
            return Err(AppError::RateLimited {
                detail: format!(
                    "ayrshare is rate limiting this workspace's profile; retry after \
                     {retry_after_secs} seconds"
                ),
                retry_after_secs,
            });
        }
        let id = Uuid::new_v4();
        let mut ayrshare_body = new_post.ayrshare_body();
        let fingerprint = key
            .as_ref()
            .map(|_| request_fingerprint(&new_post, &ayrshare_body, workspace.id));
        let (sent_key, derived) =
            idempotency::ayrshare_key(new_post.extra.get("idempotencyKey"), id);
        if derived {
            ayrshare_body["idempotencyKey"] = Value::String(sent_key.clone());
        }
        let record = NewTracking {
            id,
            organization_id: caller.organization_id,
            workspace_id: workspace.id,
            api_key_id: caller.api_key_id,
            post: new_post.post.clone(),
            platforms: new_post
                .platforms
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            media_urls: new_post.media_urls.iter().map(|u| u.to_string()).collect(),
            schedule_date: new_post.schedule_date,
            extra: Value::Object(new_post.extra.clone()),
            idempotency_key: key.as_ref().map(|k| k.as_str().to_owned()),
            request_fingerprint: fingerprint.clone(),
            ayrshare_idempotency_key: Some(sent_key),
            timezone: new_post.timezone.clone(),
        };

        // Writing the record, calling Ayrshare and recording its answer run as a task of their
        // own (`to_the_end`): a client hanging up drops this future, and that must never happen
        // between the commit and the call, or between the call and the recording. Nor does the
        // deadline: it stops only the waiting.
        let work = self
            .clone()
            .publish(record, ayrshare_body, new_post, workspace);
        // The database is slow: answer now, with what the record says at this moment; the
        // task goes on and records the outcome (and the replayable answer) when it can.
        let late = move || {
            Published::Done(Err(AppError::Provider {
                verdict: Verdict::TimedOut {
                    detail: "the outcome could not be recorded in time; read the tracking \
                             record later to learn it"
                        .into(),
                },
                record: RecordRef {
                    tracking_id: id,
                    tracked_status: TrackedStatus::Pending,
                    post_id: None,
                    results: None,
                },
            }))
        };
        let published = self.within_answer_deadline(work, late).await?;
        match published {
            Published::Done(result) => Ok(Answer::fresh(result)),
            Published::Claimed(holder) => self.replay(*holder, fingerprint.as_deref()).await,
        }
    }

    /// The answer to a request whose idempotency key another request already holds: the first
    /// request's answer once it tells how the create ended; else (the first request stopped
    /// before it recorded Ayrshare's answer, or answered while the outcome was unknown) the
    /// record's settled answer, once it has settled, kept from then on; else what the record
    /// says now. Never a call to Ayrshare.
    async fn replay(
        &self,
        holder: TrackingRecord,
        fingerprint: Option<&str>,
    ) -> Result<Answer<PostView>, AppError> {
        let progress = match holder.tracked_status {
            TrackedStatus::Pending => Progress::Pending,
            TrackedStatus::Unknown => Progress::Unknown,
            _ => Progress::Settled,
        };
        let seen = Holder {
            who: ClaimHolder::Tracking(holder.id),
            progress,
            fingerprint: holder.request_fingerprint.as_deref(),
            stored_answer: holder.stored_answer.as_ref(),
            created_at: holder.created_at,
        };
        match replay_of::<StoredAnswer<'static>>(
            &seen,
            fingerprint,
            self.settings.answer_deadline(),
        )? {
            Replay::Kept(kept) => return Ok(Answer::replayed(kept.into_result())),
            Replay::Settled => {
                let result = settled_answer(&holder);
                // Kept, so that every later retry gets this very answer; a failure to keep it
                // only means the next retry works it out again from the record.
                if let Some(answer) = StoredAnswer::of(&result) {
                    if let Err(e) = self.store.settle_answer(holder.id, &answer).await {
                        tracing::warn!(tracking_id = %holder.id, error = %e, "could not keep the settled answer");
                    }
                }
                return Ok(Answer::replayed(result));
            }
            Replay::InProgress { interrupted } => {
                // Past its deadline, the first request is over: the reconciler makes the record
                // `unknown` at its next pass, then looks the post up.
                let retry_after_secs = match (interrupted, self.settings.reconcile.interval) {
                    (false, _) => 1,
                    (true, Some(interval)) => interval.as_secs().max(1),
                    (true, None) => INTERRUPTED_RETRY_AFTER_SECS,
                };
                return Err(AppError::IdempotencyInProgress {
                    holder: ClaimHolder::Tracking(holder.id),
                    retry_after_secs,
                    interrupted,
                });
            }
            Replay::Unknown => {}
        }
        // `unknown`, with no answer recorded: the post may have gone out, and nobody knows yet.
        Ok(Answer::replayed(Err(AppError::Provider {
            verdict: Verdict::TimedOut {
                detail: "the first request with this Idempotency-Key stopped before it recorded \
                         ayrshare's answer, and the post may have been published; the service is \
                         finding out (it never sends the post again): retry later with the same \
                         key to get the settled answer, or read the tracking record"
                    .into(),
            },
            record: RecordRef::new(&holder, false, &[]),
        })))
    }

    /// Writes the record, sends the post to Ayrshare once, and records what came of it.
    async fn publish(
        self,
        record: NewTracking,
        ayrshare_body: Value,
        new_post: NewPost,
        workspace: Workspace,
    ) -> Result<Published, AppError> {
        let keeps_answer = record.idempotency_key.is_some();
        let record = match self.store.insert_tracking(&record).await? {
            Inserted::New(record) => record,
            Inserted::Claimed(holder) => return Ok(Published::Claimed(Box::new(holder))),
        };
        metrics::record_transition(None, record.tracked_status);
        // At debug: the outcome line below names the record too, and at info one line per step
        // cost each create a formatted line and a write (issue 21's CPU budget).
        tracing::debug!(tracking_id = %record.id, "tracking record written");
        let scope = CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: new_post.involves_x(),
        };
        let answer = self.ayrshare.create_post(scope, &ayrshare_body).await;
        let outcome = judge_create(
            answer.as_ref().map_err(|e| e.failure()),
            new_post.schedule_date.is_some(),
        );
        // The answer as it will be once the outcome is recorded; stored by the same statement.
        let expected = outcome.tracked_status.unwrap_or(record.tracked_status);
        let result = answer_of(&record, expected, &outcome);
        let stored = keeps_answer.then(|| StoredAnswer::of(&result)).flatten();
        let updated = self
            .record_with_retries(
                record.id,
                record.tracked_status,
                Transition::CreateOutcome,
                &outcome,
                stored.as_ref(),
            )
            .await;
        match updated {
            Ok(updated) if updated.tracked_status == expected => {
                tracing::info!(
                    tracking_id = %updated.id,
                    tracked_status = %updated.tracked_status,
                    post_id = updated.provider_post_id.as_deref().unwrap_or(""),
                    "outcome recorded"
                );
                Ok(Published::Done(result))
            }
            // Something else moved the record first: answer with what it says now.
            Ok(updated) => {
                let result = answer_of(&updated, updated.tracked_status, &outcome);
                if keeps_answer {
                    if let Some(stored) = StoredAnswer::of(&result) {
                        self.store.store_answer(updated.id, &stored).await?;
                    }
                }
                Ok(Published::Done(result))
            }
            Err(cause) => {
                // Everything needed to repair the record by hand.
                tracing::error!(
                    tracking_id = %record.id,
                    error = %cause,
                    tracked_status = ?outcome.tracked_status,
                    post_id = outcome.provider_post_id.as_deref().unwrap_or(""),
                    provider_status = outcome.provider_status.as_deref().unwrap_or(""),
                    results = %serde_json::to_string(&outcome.results).unwrap_or_default(),
                    provider_response = %outcome
                        .provider_response
                        .as_ref()
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    "ayrshare answered but the tracking record could not be updated in \
                     time; when the database was unreachable it is retried in the background \
                     until it lands, else repair it by hand from these fields"
                );
                Ok(Published::Done(Err(AppError::Unrecorded {
                    cause,
                    record: RecordRef {
                        tracking_id: record.id,
                        tracked_status: record.tracked_status,
                        post_id: outcome.provider_post_id.clone(),
                        results: outcome
                            .provider_response
                            .is_some()
                            .then(|| outcome.results.clone()),
                    },
                })))
            }
        }
    }
}

/// The fingerprint of a create: what Ayrshare is asked for, in which workspace, and the zone
/// the record keeps (a retry that only changes `timezone` beside an offset date would send
/// Ayrshare the same body, yet ask for another record). A create without a zone fingerprints
/// as it did before zones existed, so keys claimed then still match.
fn request_fingerprint(new_post: &NewPost, ayrshare_body: &Value, workspace_id: Uuid) -> String {
    match &new_post.timezone {
        None => idempotency::fingerprint(ayrshare_body, workspace_id),
        Some(zone) => {
            let mut keyed = ayrshare_body.clone();
            // `timezone` is never a forwarded key (it is refused as an extra), so this cannot
            // collide with a body Ayrshare would receive.
            keyed["timezone"] = Value::String(zone.clone());
            idempotency::fingerprint(&keyed, workspace_id)
        }
    }
}

/// How long a retry is told to wait for a create that stopped before recording its answer,
/// when no reconciler runs to settle it.
const INTERRUPTED_RETRY_AFTER_SECS: u64 = 60;

/// Whether a record in this state tells how its create ended.
fn settled(tracked_status: TrackedStatus) -> bool {
    !matches!(
        tracked_status,
        TrackedStatus::Pending | TrackedStatus::Unknown
    )
}

/// The answer a create would have given, had it recorded its record as it is now (settled):
/// the merged response, or for a post that failed, Ayrshare's refusal.
fn settled_answer(record: &TrackingRecord) -> Result<PostView, AppError> {
    if record.tracked_status == TrackedStatus::Failed {
        return Err(AppError::Provider {
            verdict: Verdict::Rejected {
                detail: "ayrshare did not publish the post; the tracking record's error says why"
                    .into(),
            },
            record: RecordRef::new(record, true, &record.results),
        });
    }
    let recorded = Outcome {
        tracked_status: None,
        open: None,
        provider_post_id: None,
        provider_status: record.provider_status.clone(),
        results: record.results.clone(),
        error: record.error.clone(),
        provider_response: None,
        verdict: Verdict::Accepted,
    };
    Ok(PostView::merged(record, &recorded))
}

/// The answer to a create whose record is (or will be) in `tracked_status`.
fn answer_of(
    record: &TrackingRecord,
    tracked_status: TrackedStatus,
    outcome: &Outcome,
) -> Result<PostView, AppError> {
    match &outcome.verdict {
        Verdict::Accepted => Ok(PostView::of(
            record.id,
            tracked_status,
            record.provider_post_id.as_deref(),
            outcome,
        )),
        verdict => Err(AppError::Provider {
            verdict: verdict.clone(),
            record: RecordRef {
                tracking_id: record.id,
                tracked_status,
                post_id: outcome
                    .provider_post_id
                    .clone()
                    .or_else(|| record.provider_post_id.clone()),
                results: outcome
                    .provider_response
                    .is_some()
                    .then(|| outcome.results.clone()),
            },
        }),
    }
}
