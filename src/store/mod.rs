//! Storage: one `Store` trait with a Postgres and a SQLite implementation, so that nothing above
//! this module sees a database type. Both pass the same test suite.

mod batch;
mod postgres;
mod rows;
mod sqlite;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::domain::{
    KeyHash, Outcome, PlatformResult, Position, PostFilter, TrackedStatus, Transition,
    WorkspacePosition,
};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Everything that can go wrong below the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("unsupported DATABASE_URL: expected postgres://, postgresql:// or sqlite://")]
    UnsupportedUrl,
    /// The database could not be reached for a write that shared its batch with others: each
    /// of them gets this, with the batch's error as text.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

/// A customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A workspace of an organization; its profile key picks an Ayrshare user profile.
#[derive(Clone)]
pub struct Workspace {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub is_primary: bool,
    /// Sent as `Profile-Key`; a secret, so `Debug` hides it.
    pub ayrshare_profile_key: Option<SecretString>,
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workspace")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("name", &self.name)
            .field("is_primary", &self.is_primary)
            .field(
                "has_ayrshare_profile_key",
                &self.ayrshare_profile_key.is_some(),
            )
            .finish()
    }
}

/// Who is calling: the organization and the key it used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub organization_id: Uuid,
    pub api_key_id: Uuid,
}

/// An API key as listed: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Roughly when the key was last used (kept to the minute), or never.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A workspace as listed: whether it has an Ayrshare profile key, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceInfo {
    pub id: Uuid,
    pub name: String,
    pub is_primary: bool,
    pub has_profile_key: bool,
    pub created_at: DateTime<Utc>,
}

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

/// One row of `scheduled_social_posts_v2`.
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
    pub provider_response: Option<Value>,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
    /// The answer replayed to a retry with the same idempotency key (while the claim lives).
    pub stored_answer: Option<StoredAnswerJson>,
    pub ayrshare_idempotency_key: Option<String>,
    /// A scheduled post paused through this API (Ayrshare's `scheduledPause`).
    pub paused: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How many bytes a record takes, by the lengths of its stored text and JSON (what loading it
/// costs), and where it stands in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordSize {
    pub position: Position,
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
}

/// A record the reconciler claimed, with its bookkeeping.
#[derive(Clone, Debug, PartialEq)]
pub struct DueRecord {
    pub record: TrackingRecord,
    /// How often Ayrshare was asked about it before this claim.
    pub check_attempts: u32,
    /// When it was first seen unpublished well after its schedule date.
    pub overdue_at: Option<DateTime<Utc>>,
}

/// The storage the service needs. Every method is one short transaction at most.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Whether the database answers and every migration this build knows is applied: two small
    /// reads, for `GET /readyz`.
    async fn readiness(&self) -> Result<Readiness, StoreError>;
    /// The pool's connections now (open and idle), without waiting: sampled for `/metrics`.
    fn pool_stats(&self) -> PoolStats;

    /// The active (not revoked) key with this hash.
    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Caller>, StoreError>;
    /// The given workspace of the organization, or its primary one when `workspace_id` is `None`.
    async fn find_workspace(
        &self,
        organization_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> Result<Option<Workspace>, StoreError>;

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
    /// The organization's records with these ids (another organization's are left out), newest
    /// first (`created_at desc, id desc`).
    async fn find_trackings(
        &self,
        organization_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<TrackingRecord>, StoreError>;
    /// Records a change Ayrshare made to a scheduled post (its new schedule date, paused or
    /// not), only while the record is still `scheduled`; returns the record as it is afterwards.
    async fn record_schedule_change(
        &self,
        id: Uuid,
        schedule_date: Option<DateTime<Utc>>,
        paused: Option<bool>,
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

    /// The organization with this name, created with its primary workspace if it does not exist.
    async fn ensure_organization(&self, name: &str) -> Result<Organization, StoreError>;
    async fn find_organization(&self, name: &str) -> Result<Option<Organization>, StoreError>;
    async fn find_organization_by_id(&self, id: Uuid) -> Result<Option<Organization>, StoreError>;
    async fn count_organizations(&self) -> Result<i64, StoreError>;
    /// The organization's workspaces, the primary one first, then oldest first.
    async fn list_workspaces(
        &self,
        organization_id: Uuid,
    ) -> Result<Vec<WorkspaceInfo>, StoreError>;
    /// A page of the organization's workspaces in the order of `list_workspaces`, starting
    /// strictly after `after`; at most `limit` of them.
    async fn list_workspace_page(
        &self,
        organization_id: Uuid,
        after: Option<WorkspacePosition>,
        limit: i64,
    ) -> Result<Vec<WorkspaceInfo>, StoreError>;
    async fn create_workspace(
        &self,
        organization_id: Uuid,
        name: &str,
        ayrshare_profile_key: Option<&str>,
    ) -> Result<Workspace, StoreError>;

    async fn insert_api_key(
        &self,
        organization_id: Uuid,
        hash: &KeyHash,
        prefix: &str,
        label: Option<&str>,
    ) -> Result<ApiKeyInfo, StoreError>;
    async fn list_api_keys(&self, organization_id: Uuid) -> Result<Vec<ApiKeyInfo>, StoreError>;
    /// The key with this id.
    async fn find_api_key(&self, id: Uuid) -> Result<Option<ApiKeyInfo>, StoreError>;
    /// Sets the key's `last_used_at` to `at`, unless it already says `not_before` or later (so
    /// that replicas sharing the database write at most about once per interval).
    async fn touch_api_key(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Revokes the key with this id or prefix (`mk_` and 8 characters); an ambiguous prefix is
    /// refused. Revoking a revoked key changes nothing and succeeds.
    async fn revoke_api_key(&self, id_or_prefix: &str) -> Result<ApiKeyInfo, StoreError>;
}

/// What `Store::readiness` found once the database answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Every migration of this build is applied.
    Ready,
    /// These migration versions of this build are not applied (yet).
    MissingMigrations(Vec<i64>),
}

/// The pool's connections at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, in use or idle.
    pub size: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// The most connections the pool may open.
    pub max: u32,
}

impl PoolStats {
    /// Connections lent out right now.
    pub fn in_use(&self) -> u32 {
        self.size.saturating_sub(self.idle)
    }
}

/// Compares the versions the database says are applied with the migrations this build carries.
fn readiness_of(migrator: &sqlx::migrate::Migrator, applied: Option<Vec<i64>>) -> Readiness {
    let applied = applied.unwrap_or_default();
    let missing: Vec<i64> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    if missing.is_empty() {
        Readiness::Ready
    } else {
        Readiness::MissingMigrations(missing)
    }
}

/// A shared handle to whichever store the configuration chose.
pub type DynStore = Arc<dyn Store>;

/// How the connection pool behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// The most connections open at once.
    pub max_connections: u32,
    /// How long a request waits for a connection before the database counts as unavailable:
    /// a dead database then answers quickly instead of hanging.
    pub acquire_timeout: std::time::Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: std::time::Duration::from_secs(3),
        }
    }
}

impl StoreError {
    /// Whether the database server answered that the named database does not exist.
    pub fn is_missing_database(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db))
            if db.code().as_deref() == Some("3D000"))
    }

    /// Whether the database could not be reached at all (as opposed to refusing a statement):
    /// the request may succeed when it is retried later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(error) => match error {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_) => true,
                // Connection exceptions (08), insufficient resources (53), operator intervention
                // such as a shutdown (57): Postgres is going or gone, not refusing our data.
                sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                    c.starts_with("08") || c.starts_with("53") || c.starts_with("57")
                }),
                _ => false,
            },
            StoreError::Unavailable(_) => true,
            _ => false,
        }
    }
}

/// Opens the store `database_url` names, without migrating.
pub async fn connect(database_url: &str, pool: PoolSettings) -> Result<DynStore, StoreError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(database_url, pool).await?))
    } else if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url, pool).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// The name given to an organization's first workspace.
pub const PRIMARY_WORKSPACE_NAME: &str = "primary";

/// Finds the one key an id or a prefix names, from the candidates a backend found.
fn pick_key(id_or_prefix: &str, mut found: Vec<ApiKeyInfo>) -> Result<ApiKeyInfo, StoreError> {
    match found.len() {
        0 => Err(StoreError::NotFound(format!(
            "no API key has the id or prefix {id_or_prefix}"
        ))),
        1 => Ok(found.remove(0)),
        n => Err(StoreError::Conflict(format!(
            "{n} API keys share the prefix {id_or_prefix}; revoke by id instead"
        ))),
    }
}

/// Decodes a stored `tracked_status`.
fn tracked_status_of(stored: &str) -> Result<TrackedStatus, StoreError> {
    stored
        .parse()
        .map_err(|e: crate::domain::tracked_status::UnknownTrackedStatus| {
            StoreError::Corrupt(e.to_string())
        })
}

/// Decodes stored per-platform results.
fn results_of(stored: Value) -> Result<Vec<PlatformResult>, StoreError> {
    serde_json::from_value(stored).map_err(|e| StoreError::Corrupt(format!("results: {e}")))
}

/// The JSON written to the `results` column.
fn results_json(results: &[PlatformResult]) -> Value {
    serde_json::to_value(results).unwrap_or_else(|_| Value::Array(Vec::new()))
}

/// The names of the states an update may start from, bound as one parameter.
fn source_names(outcome: &TrackedStatus, transition: Transition) -> Vec<String> {
    outcome
        .allowed_sources(transition)
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// Finds the next due record: open, its next check not in the future, and due by its state
/// (`$1` now, `$2` the pending cutoff, `$4` the most history lookups for a record without a post
/// id, `$5` the most checks of any record). Shared by both backends, which lock it their own way.
const DUE_RECORD: &str = "select id from scheduled_social_posts_v2 \
     where tracked_status in ('pending', 'unknown', 'scheduled') \
       and (next_check_at is null or next_check_at <= $1) \
       and ((tracked_status = 'pending' and created_at <= $2) \
            or (tracked_status = 'scheduled' and (schedule_date is null or schedule_date <= $1)) \
            or tracked_status = 'unknown') \
       and (tracked_status = 'pending' or (check_attempts < $5 \
            and (provider_post_id is not null or check_attempts < $4))) \
     order by coalesce(next_check_at, created_at), id \
     limit 1";

/// The current time at the precision both databases keep (microseconds), so that a record reads
/// back exactly as it was written on either backend.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
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
