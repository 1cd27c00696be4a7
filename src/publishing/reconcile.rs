//! The reconciler: settles every open record by itself, without a caller reading it. Each pass
//! first expires crashed creates (no call), then claims due records one at a time (a lease on the
//! row, so any number of replicas can run it on one database), checks each within the profile's
//! share of Ayrshare's rate limit (`ayrshare::share`), and applies the answer through the same use
//! cases as a read (`apply_reading`). Finding a post without its id is `history_lookup`'s.
//! `docs/reconciler.md` has the rules and the timings.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::history_lookup::HistoryReads;
use super::{AppError, Publisher};
use crate::ayrshare::{CallScope, retry_after_secs};
use crate::domain::{Outcome, TrackedStatus, Transition, Verdict};
use crate::store::{DueQuery, DueRecord, TrackingRecord};
use crate::telemetry::metrics;

/// How the reconciler runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// The pause between passes; `None` turns the reconciler off.
    pub interval: Option<Duration>,
    /// The Ayrshare calls after which a pass starts no further check (a refresh costs one, a
    /// history lookup up to `HISTORY_MAX_PAGES`).
    pub max_calls_per_pass: u32,
    /// How long past its schedule date a post may stay unpublished before it is flagged overdue.
    pub overdue_grace: Duration,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            interval: Some(Duration::from_secs(15)),
            max_calls_per_pass: 20,
            overdue_grace: Duration::from_secs(600),
        }
    }
}

/// How often a record without a post id is looked up in Ayrshare's history before it is left
/// `unknown` for good.
pub const MAX_HISTORY_LOOKUPS: u32 = 5;
/// How many checks a record gets in all (about a day at the longest backoff); then it is left as
/// it is.
pub const MAX_CHECKS: u32 = 60;
/// How many `pending` records past their answer deadline one pass expires (no Ayrshare call),
/// before and apart from its checks.
pub const EXPIRIES_PER_PASS: u32 = 100;
/// The first wait between two checks of a record; it doubles with every check.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(30);
/// The longest wait between two checks of a record.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30 * 60);
/// How long a claim keeps other reconcilers off a record, past the time one check may take.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// What one pass did, for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Records claimed.
    pub claimed: u32,
    /// Ayrshare calls made.
    pub calls: u32,
    /// Records that reached `posted`, `partial`, `failed`, `cancelled` or `deleted`.
    pub settled: u32,
    /// Records without a post id whose post was found in the history (settled or not).
    pub found: u32,
    /// `pending` records made `unknown`.
    pub expired: u32,
    /// Records still open after a reading.
    pub still_open: u32,
    /// Records passed over because Ayrshare is rate limiting their profile.
    pub held_off: u32,
    /// Records whose check failed (no answer, an error answer, a database error).
    pub failed: u32,
    /// Records newly flagged overdue.
    pub overdue: u32,
}

/// What came of checking one record.
pub(super) enum Checked {
    /// Ayrshare was asked `calls` times (or not), and the record is as `record` says.
    Done {
        record: Box<TrackingRecord>,
        calls: u32,
        /// Whether a reading said the post is still open (for the overdue flag).
        open: bool,
    },
    /// Not finished: the profile is held off, or the reconciler's share of it is spent, for this
    /// long (after `calls` calls). `expired`: the record was made `unknown` first.
    HeldOff {
        wait: Duration,
        expired: bool,
        calls: u32,
    },
}

impl Publisher {
    /// One pass: claims due records and checks each, until the call budget is spent or nothing
    /// is due.
    pub async fn reconcile_pass(&self) -> Result<PassReport, AppError> {
        self.reconcile_until(&CancellationToken::new()).await
    }

    /// One pass that stops early, between records, once `stop` is cancelled.
    async fn reconcile_until(&self, stop: &CancellationToken) -> Result<PassReport, AppError> {
        let settings = &self.settings.reconcile;
        let mut report = PassReport::default();
        self.expire_due(stop, &mut report).await?;
        let mut reads = HistoryReads::default();
        // Held-off records and lookups answered from this pass's reads cost no call; this bounds
        // the claims all the same.
        let max_claims = settings.max_calls_per_pass.saturating_mul(4);
        while report.calls < settings.max_calls_per_pass
            && report.claimed < max_claims
            && !stop.is_cancelled()
        {
            let now = Utc::now();
            let Some(due) = self.store.claim_due(&self.due_query(now)).await? else {
                break;
            };
            report.claimed += 1;
            self.check_and_reschedule(due, now, &mut reads, &mut report)
                .await;
        }
        Ok(report)
    }

    fn due_query(&self, now: DateTime<Utc>) -> DueQuery {
        DueQuery {
            now,
            pending_before: now - chrono_duration(self.settings.answer_deadline()),
            lease_until: now + chrono_duration(self.settings.answer_deadline() + LEASE_MARGIN),
            max_lookups: MAX_HISTORY_LOOKUPS,
            max_checks: MAX_CHECKS,
            pending_only: false,
        }
    }

    /// Expiry's own share of the pass: makes up to [`EXPIRIES_PER_PASS`] `pending` records past
    /// their answer deadline `unknown`, oldest first, without asking Ayrshare, so that no check
    /// (and no rate limit) keeps them `pending`. Each is then due at once for its lookup.
    async fn expire_due(
        &self,
        stop: &CancellationToken,
        report: &mut PassReport,
    ) -> Result<(), AppError> {
        for _ in 0..EXPIRIES_PER_PASS {
            if stop.is_cancelled() {
                break;
            }
            let now = Utc::now();
            let query = DueQuery {
                pending_only: true,
                ..self.due_query(now)
            };
            let Some(due) = self.store.claim_due(&query).await? else {
                break;
            };
            let id = due.record.id;
            let next = match self.expire(&due.record).await {
                Ok(record) => {
                    if record.tracked_status == TrackedStatus::Unknown {
                        report.expired += 1;
                    }
                    // In the order of its age among the records due now.
                    due.record.created_at
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(tracking_id = %id, error = %e, "reconciler: could not expire the record");
                    now + chrono_duration(backoff(1))
                }
            };
            if let Err(e) = self
                .store
                .set_next_check(id, next, due.check_attempts)
                .await
            {
                tracing::warn!(tracking_id = %id, error = %e, "reconciler: could not schedule the next check");
            }
        }
        Ok(())
    }

    /// Checks one claimed record, then sets when it is looked at next.
    async fn check_and_reschedule(
        &self,
        due: DueRecord,
        now: DateTime<Utc>,
        reads: &mut HistoryReads,
        report: &mut PassReport,
    ) {
        let id = due.record.id;
        let attempts = due.check_attempts;
        let before = due.record.tracked_status;
        let had_post_id = due.record.provider_post_id.is_some();
        let lease_until = self.due_query(now).lease_until;
        let next = match self.check(&due, lease_until, reads).await {
            Ok(Checked::HeldOff {
                wait,
                expired,
                calls,
            }) => {
                report.held_off += 1;
                report.calls += calls;
                report.expired += u32::from(expired);
                tracing::info!(tracking_id = %id, retry_after_secs = retry_after_secs(wait), "reconciler: the profile is held off or the reconciler's share of it is spent; record skipped this pass");
                Some((now + chrono_duration(wait), attempts))
            }
            Ok(Checked::Done {
                record,
                calls,
                open,
            }) => {
                let record = *record;
                report.calls += calls;
                if !had_post_id && record.provider_post_id.is_some() {
                    report.found += 1;
                }
                if before == TrackedStatus::Pending
                    && record.tracked_status == TrackedStatus::Unknown
                {
                    report.expired += 1;
                }
                if is_open(record.tracked_status) {
                    report.still_open += 1;
                    if open {
                        self.flag_if_overdue(&record, due.record.overdue_at, now, report)
                            .await;
                    }
                    let attempts = attempts + 1;
                    if attempts >= MAX_CHECKS && record.provider_post_id.is_some() {
                        tracing::warn!(tracking_id = %id, tracked_status = %record.tracked_status, checks = attempts, "reconciler: the record did not settle; it is no longer checked");
                    }
                    Some((now + chrono_duration(backoff(attempts)), attempts))
                } else {
                    report.settled += 1;
                    tracing::info!(tracking_id = %id, from = %before, tracked_status = %record.tracked_status, post_id = record.provider_post_id.as_deref().unwrap_or(""), "reconciler: record settled");
                    None
                }
            }
            Err((calls, error)) => {
                report.calls += calls;
                report.failed += 1;
                match &error {
                    AppError::Provider {
                        verdict: Verdict::RateLimited { retry_after },
                        ..
                    } => {
                        let wait = retry_after
                            .parse()
                            .map_or(backoff(attempts + 1), Duration::from_secs);
                        tracing::info!(tracking_id = %id, "reconciler: ayrshare is rate limiting the profile");
                        Some((now + chrono_duration(wait), attempts))
                    }
                    _ => {
                        tracing::warn!(tracking_id = %id, error = %error, "reconciler: the check failed");
                        Some((now + chrono_duration(backoff(attempts + 1)), attempts + 1))
                    }
                }
            }
        };
        if let Some((at, attempts)) = next {
            if let Err(e) = self.store.set_next_check(id, at, attempts).await {
                // The lease runs out by itself; the record is checked again then.
                tracing::warn!(tracking_id = %id, error = %e, "reconciler: could not schedule the next check");
            }
        }
    }

    /// Checks one record: one Ayrshare call for a refresh, up to `HISTORY_MAX_PAGES` for a
    /// history lookup, none when the profile has no room. The error says how many calls were
    /// made.
    async fn check(
        &self,
        due: &DueRecord,
        lease_until: DateTime<Utc>,
        reads: &mut HistoryReads,
    ) -> Result<Checked, (u32, AppError)> {
        // Without a post id the create's answer was lost (a crash) or never came (a timeout).
        // Past its answer deadline a `pending` create will not record anything more reliable
        // than "unknown" by itself: say so now, before (and whatever) Ayrshare is asked, so that
        // no rate limit can keep a record `pending`. (Most are expired before any check, by
        // `expire_due`.)
        let record = match (&due.record.provider_post_id, due.record.tracked_status) {
            (None, TrackedStatus::Pending) => self.expire(&due.record).await.map_err(|e| (0, e))?,
            _ => due.record.clone(),
        };
        let expired = record.tracked_status != due.record.tracked_status;
        let workspace = self
            .workspace(record.organization_id, Some(record.workspace_id))
            .await
            .map_err(|e| (0, e))?;
        let scope = CallScope {
            profile_key: workspace.ayrshare_profile_key.as_ref(),
            involves_x: record.platforms.iter().any(|p| p == "x"),
        };
        if let Some(post_id) = record.provider_post_id.clone() {
            if let Err(wait) = self.ayrshare.take_background_call(scope) {
                return Ok(Checked::HeldOff {
                    wait,
                    expired,
                    calls: 0,
                });
            }
            let (record, outcome) = self.refresh(record, &post_id).await.map_err(|e| (1, e))?;
            return Ok(Checked::Done {
                open: still_due_to_go_out(&record, &outcome),
                record: Box::new(record),
                calls: 1,
            });
        }
        if due.check_attempts >= MAX_HISTORY_LOOKUPS {
            return Ok(Checked::Done {
                record: Box::new(record),
                calls: 0,
                open: false,
            });
        }
        self.look_up(record, scope, lease_until, reads, expired)
            .await
    }

    /// `pending` → `unknown` (`Expire`).
    async fn expire(&self, record: &TrackingRecord) -> Result<TrackingRecord, AppError> {
        let outcome = Outcome {
            tracked_status: Some(TrackedStatus::Unknown),
            open: None,
            provider_post_id: None,
            provider_status: None,
            results: record.results.clone(),
            error: Some(json!({
                "message": "the outcome of the call to ayrshare was never recorded (the service \
                            stopped, or its answer was lost); the post may have been published"
            })),
            provider_response: None,
            verdict: Verdict::Accepted,
        };
        Ok(self
            .record_outcome(
                record.id,
                record.tracked_status,
                Transition::Expire,
                &outcome,
                None,
            )
            .await?)
    }

    /// Flags a record overdue (once) when its post is still unpublished well after its time.
    async fn flag_if_overdue(
        &self,
        record: &TrackingRecord,
        already: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        report: &mut PassReport,
    ) {
        let Some(date) = record.schedule_date else {
            return;
        };
        if already.is_some() || now < date + chrono_duration(self.settings.reconcile.overdue_grace)
        {
            return;
        }
        match self.store.mark_overdue(record.id, now).await {
            Ok(true) => {
                report.overdue += 1;
                tracing::warn!(tracking_id = %record.id, post_id = record.provider_post_id.as_deref().unwrap_or(""), schedule_date = %date, tracked_status = %record.tracked_status, "reconciler: scheduled post is overdue: still unpublished well after its time");
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(tracking_id = %record.id, error = %e, "reconciler: could not flag the record overdue")
            }
        }
    }
}

/// Runs a pass every `every` until `stop` is cancelled; a pass in progress stops between
/// records.
pub async fn run_reconciler(publisher: Publisher, every: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    // A slow pass is followed by a full pause, not by a burst of passes.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = std::time::Instant::now();
        let pass = publisher.reconcile_until(&stop).await;
        match &pass {
            Ok(report) => metrics::reconciler_pass(
                "ok",
                u64::from(report.claimed),
                u64::from(report.settled),
                started.elapsed(),
            ),
            Err(_) => metrics::reconciler_pass("failed", 0, 0, started.elapsed()),
        }
        match pass {
            Ok(report) if report.claimed == 0 && report.expired == 0 => {
                tracing::debug!("reconciler pass: nothing due")
            }
            Ok(report) => tracing::info!(
                claimed = report.claimed,
                calls = report.calls,
                settled = report.settled,
                found = report.found,
                expired = report.expired,
                still_open = report.still_open,
                held_off = report.held_off,
                failed = report.failed,
                overdue = report.overdue,
                "reconciler pass"
            ),
            Err(e) => tracing::warn!(error = %e, "reconciler pass failed"),
        }
    }
}

/// Whether a reading says the post is still to go out, for the overdue flag: open, and not
/// paused (a paused post is late on purpose).
pub(super) fn still_due_to_go_out(record: &TrackingRecord, outcome: &Outcome) -> bool {
    let paused_at_ayrshare = outcome
        .provider_status
        .as_deref()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("paused"));
    outcome.open.is_some() && !record.paused && !paused_at_ayrshare
}

/// Whether a record still waits for its outcome.
fn is_open(status: TrackedStatus) -> bool {
    matches!(
        status,
        TrackedStatus::Pending | TrackedStatus::Scheduled | TrackedStatus::Unknown
    )
}

/// The wait before the next check of a record checked `attempts` times: 30 s, doubling, at most
/// 30 minutes.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (BACKOFF_FIRST * 2u32.pow(doublings)).min(BACKOFF_MAX)
}

pub(super) fn provider_error(record: &TrackingRecord, detail: &str) -> AppError {
    AppError::Provider {
        verdict: Verdict::ProviderError {
            detail: detail.to_owned(),
        },
        record: super::RecordRef::new(record, false, &[]),
    }
}

pub(super) fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_thirty_seconds_to_half_an_hour() {
        let waits: Vec<u64> = (0..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 30, 60, 120, 240, 480, 960, 1800, 1800]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }
}
