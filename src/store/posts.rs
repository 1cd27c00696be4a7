//! Tracking records: the write-ahead insert with its idempotency claim, the outcomes through the
//! state machine, the reads and the list, the reconciler's claims, and the one change in flight.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::StoreError;
use super::rows::TRACKING_COLUMNS;
use crate::domain::{
    ChangePosition, Outcome, PlatformResult, Position, PostFilter, TrackedStatus, Transition,
};

/// A tracking record about to be written (before Ayrshare is called).
#[derive(Clone, Debug)]
pub struct NewTracking {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub api_key_id: Uuid,
    pub post: String,
    /// Our names, lowercase.
    pub platforms: Vec<String>,
    pub media_urls: Vec<String>,
    pub schedule_date: Option<DateTime<Utc>>,
    /// The forwarded extra keys, as a JSON object.
    pub extra: Value,
    /// The caller's `Idempotency-Key`, claimed atomically with this insert.
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the parsed request and workspace, compared when the key comes back.
    pub request_fingerprint: Option<String>,
    /// The `idempotencyKey` sent to Ayrshare with the post.
    pub ayrshare_idempotency_key: Option<String>,
    /// The IANA zone `schedule_date` was given in (never sent to Ayrshare).
    pub timezone: Option<String>,
}

/// What writing the write-ahead record found.
#[derive(Clone, Debug, PartialEq)]
pub enum Inserted {
    /// The record was written and committed: Ayrshare may now be called.
    New(TrackingRecord),
    /// The organization already holds a live claim on this idempotency key: nothing was
    /// written, and this is the record that holds it.
    Claimed(TrackingRecord),
}

/// An answer kept for idempotent replays, as JSON text: it is parsed only when a retry replays
/// it, not each time the record is read back (every create with a key reads its record back
/// after recording the outcome, and never looks at this).
#[derive(Clone, Debug)]
pub struct StoredAnswerJson(Box<RawValue>);

impl StoredAnswerJson {
    /// Serializes `answer` straight to text (no `Value` tree in between).
    pub fn of<T: Serialize>(answer: &T) -> Result<StoredAnswerJson, serde_json::Error> {
        serde_json::value::to_raw_value(answer).map(StoredAnswerJson)
    }

    pub fn get(&self) -> &str {
        self.0.get()
    }

    pub(crate) fn raw(&self) -> &RawValue {
        &self.0
    }
}

impl From<Box<RawValue>> for StoredAnswerJson {
    fn from(raw: Box<RawValue>) -> StoredAnswerJson {
        StoredAnswerJson(raw)
    }
}

impl PartialEq for StoredAnswerJson {
    fn eq(&self, other: &StoredAnswerJson) -> bool {
        self.get() == other.get()
    }
}

/// One row of `scheduled_social_posts_v2`, but for `provider_response`: Ayrshare's raw answer
/// is written for the operator who repairs a record by hand and is never read back by the
/// service (no answer, view or event shows it), so no statement returns it. It is the row's
/// largest document, and reading it back with every outcome update cost a create 4.6 % of its
/// instructions (callgrind, `scripts/bench/profile.sh`; issue 21).
#[derive(Clone, Debug, PartialEq)]
pub struct TrackingRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub workspace_id: Uuid,
    pub api_key_id: Uuid,
    pub post: String,
    pub platforms: Vec<String>,
    pub media_urls: Vec<String>,
    pub schedule_date: Option<DateTime<Utc>>,
    pub extra: Value,
    pub provider_post_id: Option<String>,
    pub provider_status: Option<String>,
    pub tracked_status: TrackedStatus,
    pub results: Vec<PlatformResult>,
    pub error: Option<Value>,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
    /// The answer replayed to a retry with the same idempotency key (while the claim lives).
    pub stored_answer: Option<StoredAnswerJson>,
    pub ayrshare_idempotency_key: Option<String>,
    /// A scheduled post paused through this API (Ayrshare's `scheduledPause`).
    pub paused: bool,
    /// When the reconciler first saw the scheduled post unpublished well after its date.
    pub overdue_at: Option<DateTime<Utc>>,
    /// The IANA zone `schedule_date` was last given in, by the create or a reschedule.
    pub timezone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How many bytes a record takes, by the lengths of its stored text and JSON (what loading it
/// costs), and where it stands in the list: a `Position` newest first, a `ChangePosition` in
/// the changes feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordSize<P = Position> {
    pub position: P,
    pub bytes: u64,
}

/// What the reconciler asks for when it claims a record (`docs/reconciler.md`).
#[derive(Clone, Copy, Debug)]
pub struct DueQuery {
    pub now: DateTime<Utc>,
    /// A `pending` record created before this is due: its create is past its answer deadline.
    pub pending_before: DateTime<Utc>,
    /// The claim's lease: no other reconciler claims the record before this time.
    pub lease_until: DateTime<Utc>,
    /// A record without a post id is looked up in the history at most this many times.
    pub max_lookups: u32,
    /// A record is checked at most this many times in all (a `pending` one is always due, so
    /// that it becomes `unknown`).
    pub max_checks: u32,
    /// Only `pending` records without a post id past their answer deadline (to expire them),
    /// oldest first.
    pub pending_only: bool,
}

/// A record the reconciler claimed, with its bookkeeping.
#[derive(Clone, Debug, PartialEq)]
pub struct DueRecord {
    pub record: TrackingRecord,
    /// How often Ayrshare was asked about it before this claim.
    pub check_attempts: u32,
}

/// The storage of tracking records. Every method is one short transaction at most.
#[async_trait]
pub trait PostStore: Send + Sync {
    /// Writes and commits a `pending` tracking record, claiming its idempotency key in the same
    /// statement (a unique index decides, never a select first); when the organization already
    /// holds a live claim on the key, writes nothing and returns the record holding it.
    async fn insert_tracking(&self, record: &NewTracking) -> Result<Inserted, StoreError>;
    /// Applies an outcome if the state machine allows it from the record's current state, and
    /// returns the record as it is afterwards (unchanged when the move was not allowed).
    /// `answer`, when given, is stored for idempotent replays by the same statement (and only
    /// when the move applies).
    async fn record_outcome(
        &self,
        id: Uuid,
        transition: Transition,
        outcome: &Outcome,
        answer: Option<&StoredAnswerJson>,
    ) -> Result<TrackingRecord, StoreError>;
    /// The record holding the organization's live claim on an idempotency key.
    async fn find_claim(
        &self,
        organization_id: Uuid,
        key: &str,
    ) -> Result<Option<TrackingRecord>, StoreError>;
    /// Stores the replayable answer on a record that has none yet (when the outcome's move was
    /// not allowed and so did not store it).
    async fn store_answer(&self, id: Uuid, answer: &StoredAnswerJson) -> Result<(), StoreError>;
    /// Keeps `answer` as the replayable answer of a record that holds its idempotency claim, in
    /// place of what it kept before: the settled answer of a create whose own answer could not
    /// say how it ended (none was recorded, or it said the outcome was unknown).
    async fn settle_answer(&self, id: Uuid, answer: &StoredAnswerJson) -> Result<(), StoreError>;
    /// Releases up to `batch` idempotency claims made before `cutoff` (the key stays on the
    /// record for reading; the replayable answer goes); returns how many were released.
    async fn release_idempotency_claims(
        &self,
        cutoff: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError>;
    /// A record of the organization by tracking id.
    async fn find_tracking(
        &self,
        organization_id: Uuid,
        id: Uuid,
    ) -> Result<Option<TrackingRecord>, StoreError>;
    /// The newest record of the organization with this Ayrshare post id.
    async fn find_tracking_by_post_id(
        &self,
        organization_id: Uuid,
        provider_post_id: &str,
    ) -> Result<Option<TrackingRecord>, StoreError>;
    /// Every record (of any organization) with this Ayrshare post id, newest first, at most a
    /// few: Ayrshare's post ids are unique per Ayrshare account, so normally one.
    async fn find_tracking_by_provider_post_id(
        &self,
        provider_post_id: &str,
    ) -> Result<Vec<TrackingRecord>, StoreError>;
    /// Open records (`pending`, `unknown`, `scheduled`) without a post id, of every
    /// organization, whose posts go to the same Ayrshare profile as those of the workspace
    /// `workspace_id` (workspaces with the same profile key, or, when it has none, every workspace
    /// without one: the primary profile), with exactly the text `post`, created between `from`
    /// and `until` (inclusive); at most `limit`, oldest first. The records that could own a post
    /// found in that profile's history (`docs/reconciler.md`).
    async fn find_possible_owners(
        &self,
        workspace_id: Uuid,
        post: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<TrackingRecord>, StoreError>;
    /// Claims the next open record that is due for a check (see `DueQuery`), pushing its
    /// `next_check_at` to the lease's end in the same statement, so that no other reconciler
    /// (on any replica) claims it meanwhile; `None` when nothing is due.
    async fn claim_due(&self, due: &DueQuery) -> Result<Option<DueRecord>, StoreError>;
    /// Sets when the record is looked at next, and how many checks it has had.
    async fn set_next_check(
        &self,
        id: Uuid,
        next_check_at: DateTime<Utc>,
        check_attempts: u32,
    ) -> Result<(), StoreError>;
    /// Flags the record overdue as of `at`, unless it already is; returns whether it was new.
    async fn mark_overdue(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// How big the organization's records matching `filter` are, newest first (`created_at
    /// desc, id desc`), starting strictly after `after`; at most `limit` of them. Read without
    /// the records themselves, so that a page can be planned within a byte budget before any
    /// large record is loaded.
    async fn list_tracking_sizes(
        &self,
        organization_id: Uuid,
        filter: &PostFilter,
        after: Option<Position>,
        limit: i64,
    ) -> Result<Vec<RecordSize>, StoreError>;
    /// How big the organization's records matching `filter` are, in the changes feed's order
    /// (`change asc, id asc`), strictly after `after`; at most `limit` of them. A record's
    /// change grows in the order its changes commit, and only changes that no uncommitted one
    /// can still precede are listed: a change committed later never lands behind a cursor
    /// already handed out (`docs/api.md`, the changes feed).
    async fn list_change_sizes(
        &self,
        organization_id: Uuid,
        filter: &PostFilter,
        after: Option<ChangePosition>,
        limit: i64,
    ) -> Result<Vec<RecordSize<ChangePosition>>, StoreError>;
    /// The organization's records with these ids (another organization's are left out), newest
    /// first (`created_at desc, id desc`).
    async fn find_trackings(
        &self,
        organization_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<TrackingRecord>, StoreError>;
    /// Records a change Ayrshare made to a scheduled post (its new schedule date, paused or
    /// not), only while the record is still `scheduled`; returns the record as it is afterwards.
    /// With a new schedule date, `timezone` replaces the recorded zone (`None` clears it: the
    /// new date was given without one); without one, the zone is left as it is.
    async fn record_schedule_change(
        &self,
        id: Uuid,
        schedule_date: Option<DateTime<Utc>>,
        paused: Option<bool>,
        timezone: Option<&str>,
    ) -> Result<TrackingRecord, StoreError>;
    /// Claims the record for one change (an update or a delete sent to Ayrshare) until `until`,
    /// in one conditional statement, unless another change holds a claim that has not expired
    /// by `now`: the record as it is once claimed, or `None` while another change is in flight.
    /// The claim lives in the row, so it holds across replicas sharing the database.
    async fn claim_change(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<TrackingRecord>, StoreError>;
    /// Releases the claim that runs until `until` (a claim taken since, after it expired, is left
    /// alone).
    async fn release_change(&self, id: Uuid, until: DateTime<Utc>) -> Result<(), StoreError>;
    /// Writes our retry of a failed post before Ayrshare is asked (`Transition::Retry`): the
    /// record becomes `pending`, retried at `at`, due for the reconciler at `check_at` with its
    /// checks counted afresh. `None` (nothing written) unless the record is `failed`, has a post
    /// id and was never retried: a post is retried once.
    async fn begin_retry(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        check_at: DateTime<Utc>,
    ) -> Result<Option<TrackingRecord>, StoreError>;
    /// Undoes the retry written at `at` that Ayrshare refused (`Transition::RetryRefused`):
    /// back to `failed`, the retry no longer counted, since nothing was sent again. `None` when
    /// the record has moved on meanwhile (a reading settled it).
    async fn undo_retry(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Option<TrackingRecord>, StoreError>;
}

/// `begin_retry` on both backends (`$1` id, `$2` when, `$3` the next check).
pub(super) fn begin_retry_sql() -> String {
    format!(
        "update scheduled_social_posts_v2 set tracked_status = 'pending', \
             retry_requested_at = $2, updated_at = $2, next_check_at = $3, check_attempts = 0 \
         where id = $1 and tracked_status = 'failed' and provider_post_id is not null \
           and retry_requested_at is null \
         returning {TRACKING_COLUMNS}"
    )
}

/// `undo_retry` on both backends (`$1` id, `$2` the retry's time, `$3` now).
pub(super) fn undo_retry_sql() -> String {
    format!(
        "update scheduled_social_posts_v2 set tracked_status = 'failed', \
             retry_requested_at = null, updated_at = $3, next_check_at = null \
         where id = $1 and tracked_status = 'pending' and retry_requested_at = $2 \
         returning {TRACKING_COLUMNS}"
    )
}

/// Decodes a stored `tracked_status`.
pub(super) fn tracked_status_of(stored: &str) -> Result<TrackedStatus, StoreError> {
    stored
        .parse()
        .map_err(|e: crate::domain::tracked_status::UnknownTrackedStatus| {
            StoreError::Corrupt(e.to_string())
        })
}

/// Decodes stored per-platform results.
pub(super) fn results_of(stored: Value) -> Result<Vec<PlatformResult>, StoreError> {
    serde_json::from_value(stored).map_err(|e| StoreError::Corrupt(format!("results: {e}")))
}

/// The JSON written to the `results` column.
pub(super) fn results_json(results: &[PlatformResult]) -> Value {
    serde_json::to_value(results).unwrap_or_else(|_| Value::Array(Vec::new()))
}

/// The names of the states an update may start from, bound as one parameter.
pub(super) fn source_names(outcome: &TrackedStatus, transition: Transition) -> Vec<String> {
    outcome
        .allowed_sources(transition)
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// Finds the next due record: open, its next check not in the future, and due by its state
/// (a `pending` one past its create's answer deadline, or with a post id: a retry),
/// (`$1` now, `$2` the pending cutoff, `$4` the most history lookups for a record without a post
/// id, `$5` the most checks of any record). Shared by both backends, which lock it their own way.
///
/// Oldest due first: a `scheduled` record by when it fell due (its next check, else its
/// schedule date), the others by their next check, else their creation. Each state is looked up
/// in its own partial index, in that order, from its oldest entry up to `$1` (the migration
/// `claim_indexes`): with a year of scheduled posts in the table, a claim reads the few due ones
/// at the front of the index, not every open record. The outer select repeats the whole
/// condition, so that a row changed by another transaction meanwhile is checked again as it is
/// when it is locked; the 16 candidates per state leave room for rows that
/// other reconcilers hold locked.
pub(super) const DUE_RECORD: &str = "select id from scheduled_social_posts_v2 \
     where id in ( \
         select id from (select id from scheduled_social_posts_v2 \
             where tracked_status = 'pending' \
               and (next_check_at is null or next_check_at <= $1) \
               and (created_at <= $2 or provider_post_id is not null) \
             order by coalesce(next_check_at, created_at), id limit 16) as pending \
         union all \
         select id from (select id from scheduled_social_posts_v2 \
             where tracked_status = 'scheduled' \
               and coalesce(next_check_at, schedule_date, created_at) <= $1 \
               and (next_check_at is null or next_check_at <= $1) \
               and (schedule_date is null or schedule_date <= $1) \
               and check_attempts < $5 and (provider_post_id is not null or check_attempts < $4) \
             order by coalesce(next_check_at, schedule_date, created_at), id limit 16) as scheduled \
         union all \
         select id from (select id from scheduled_social_posts_v2 \
             where tracked_status = 'unknown' \
               and coalesce(next_check_at, created_at) <= $1 \
               and (next_check_at is null or next_check_at <= $1) \
               and check_attempts < $5 and (provider_post_id is not null or check_attempts < $4) \
             order by coalesce(next_check_at, created_at), id limit 16) as unknown) \
       and tracked_status in ('pending', 'unknown', 'scheduled') \
       and (next_check_at is null or next_check_at <= $1) \
       and ((tracked_status = 'pending' and (created_at <= $2 or provider_post_id is not null)) \
            or (tracked_status = 'scheduled' and (schedule_date is null or schedule_date <= $1)) \
            or tracked_status = 'unknown') \
       and (tracked_status = 'pending' or (check_attempts < $5 \
            and (provider_post_id is not null or check_attempts < $4))) \
     order by case when tracked_status = 'scheduled' \
                   then coalesce(next_check_at, schedule_date, created_at) \
                   else coalesce(next_check_at, created_at) end, id \
     limit 1";

/// The same for `DueQuery::pending_only` (`$1` now, `$2` the pending cutoff): the oldest
/// `pending` record without a post id past its answer deadline.
pub(super) const DUE_PENDING_RECORD: &str = "select id from scheduled_social_posts_v2 \
     where tracked_status = 'pending' and provider_post_id is null \
       and (next_check_at is null or next_check_at <= $1) \
       and created_at <= $2 \
     order by created_at, id \
     limit 1";

/// The claim's inner select for `due`.
pub(super) fn due_record(due: &DueQuery) -> &'static str {
    if due.pending_only {
        DUE_PENDING_RECORD
    } else {
        DUE_RECORD
    }
}

/// The records that could own a post (see `Store::find_possible_owners`): `$1` the workspace
/// whose profile it is, `$2` the text, `$3`/`$4` the creation bounds, `$5` the limit. `same` is
/// the backend's null-safe equality (`is not distinct from`, SQLite's `is`): two workspaces
/// without a profile key share the primary profile. The key is compared inside the database; it
/// is never a parameter.
pub(super) fn possible_owners_sql(same: &str) -> String {
    format!(
        "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
         where tracked_status in ('pending', 'unknown', 'scheduled') \
           and provider_post_id is null \
           and post = $2 and created_at >= $3 and created_at <= $4 \
           and workspace_id in (select w.id from workspaces w \
                join workspaces mine on mine.id = $1 \
                where w.ayrshare_profile_key {same} mine.ayrshare_profile_key) \
         order by created_at, id \
         limit $5"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stored_answer_is_the_answers_json_text_and_equal_by_that_text() {
        let answer = StoredAnswerJson::of(&json!({"kind": "created", "n": [1, 2]})).unwrap();
        assert_eq!(answer.get(), r#"{"kind":"created","n":[1,2]}"#);
        assert_eq!(answer.raw().get(), answer.get());
        let read_back: StoredAnswerJson = RawValue::from_string(answer.get().to_owned())
            .unwrap()
            .into();
        assert_eq!(read_back, answer);
        let other = StoredAnswerJson::of(&json!({"kind": "refused"})).unwrap();
        assert_ne!(other, answer);
    }
}
