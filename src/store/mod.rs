//! Storage: one `Store` trait with a Postgres and a SQLite implementation, so that nothing above
//! this module sees a database type. Both pass the same test suite.

mod accounts;
mod batch;
mod bounded;
mod comments;
mod connections;
mod deliveries;
mod endpoints;
mod events;
mod postgres;
mod posts;
mod rows;
mod sqlite;
mod stored_secrets;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::WorkspacePosition;

pub use accounts::{
    AccountStore, ApiKeyInfo, Caller, Organization, ProfileCreate, ProfileSettle, Workspace,
    WorkspaceInfo,
};
pub use bounded::{Bounded, FIRST_BACKOFF, MOST_BACKOFF};
pub use comments::{CommentStore, CommentWrite, NewCommentWrite, WriteInserted, WriteRecording};
pub use connections::{
    ConnectionApplied, ConnectionFilter, ConnectionStore, MAX_PROFILE_OWNERS, ProfileOwner,
    StoredConnection,
};
pub use deliveries::{
    ClaimQuery, ClaimedDelivery, DeliveryBacklog, DeliveryStore, Finished, FinishedAttempt,
};
pub use endpoints::{
    DISABLED_BY_CALLER, EndpointStore, NewStoredEndpoint, StoredAttempt, StoredEndpoint, secret_aad,
};
pub use events::{EventSize, EventStore, FeedEvent, StoredAccountEvent, StoredEvent};
pub use postgres::PostgresStore;
pub use posts::{
    DueQuery, DueRecord, Inserted, NewTracking, PostStore, RecordSize, StoredAnswerJson,
    TrackingRecord,
};
pub use rows::profile_key_aad;
pub use sqlite::SqliteStore;
pub use stored_secrets::{SecretColumn, StoredSecretStore};

pub use crate::secrets::Secrets;

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
    /// A stored secret could not be sealed or opened (no `SECRETS_KEY`, another key, a damaged
    /// envelope); the message names the row, never the secret.
    #[error("{0}")]
    Secret(String),
    #[error("unsupported DATABASE_URL: expected postgres://, postgresql:// or sqlite://")]
    UnsupportedUrl,
    /// The database could not be reached for a write that shared its batch with others: each
    /// of them gets this, with the batch's error as text.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

/// The storage the service needs: the records (`PostStore`), the accounts (`AccountStore`), the
/// post events (`EventStore`), the webhook endpoints (`EndpointStore`) and their deliveries
/// (`DeliveryStore`), the social account connections (`ConnectionStore`), the comment writes
/// (`CommentStore`), and what concerns the database as a whole. Every method is one short
/// transaction at most.
#[async_trait]
pub trait Store:
    PostStore
    + AccountStore
    + EventStore
    + EndpointStore
    + DeliveryStore
    + ConnectionStore
    + CommentStore
    + StoredSecretStore
    + Send
    + Sync
    + 'static
{
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Whether the database answers and every migration this build knows is applied: two small
    /// reads, for `GET /readyz`.
    async fn readiness(&self) -> Result<Readiness, StoreError>;
    /// The pool's connections now (open and idle), without waiting: sampled for `/metrics`.
    fn pool_stats(&self) -> PoolStats;
    /// Gives up the calls waiting on the database right now (they fail as unavailable); later
    /// calls run as usual. Shutdown calls it once its grace has passed, so that a frozen
    /// database cannot hold the process. Only the bounded store (`Bounded`) has calls to give up.
    fn give_up_waiting(&self) {}
    /// What the store seals and opens its stored secrets with (profile keys, endpoint secrets).
    fn secrets(&self) -> &Secrets;
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
    /// The most one statement may take: Postgres's `statement_timeout` (and
    /// `idle_in_transaction_session_timeout`) on every connection, SQLite's `busy_timeout`.
    pub statement_timeout: std::time::Duration,
}

impl PoolSettings {
    /// The client-side deadline of one database call: a connection, then its statements.
    pub fn call_deadline(&self) -> std::time::Duration {
        self.acquire_timeout + self.statement_timeout
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: std::time::Duration::from_secs(3),
            statement_timeout: std::time::Duration::from_secs(5),
        }
    }
}

impl StoreError {
    /// Whether the database server answered that the named database does not exist.
    pub fn is_missing_database(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db))
            if db.code().as_deref() == Some("3D000"))
    }

    /// Whether the server cancelled the statement by its `statement_timeout` (57014): the
    /// database was reached, the statement was too slow.
    pub fn is_statement_timeout(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db))
            if db.code().as_deref() == Some("57014"))
    }

    /// Whether the database could not be reached at all (as opposed to refusing a statement):
    /// the request may succeed when it is retried later.
    pub fn is_unavailable(&self) -> bool {
        use sqlx::error::DatabaseError as _;
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
                sqlx::Error::Database(db) => {
                    match db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                        // SQLITE_BUSY and SQLITE_LOCKED (with their extended codes): another writer
                        // held the file for longer than `busy_timeout`.
                        Some(sqlite) => sqlite
                            .code()
                            .and_then(|c| c.parse::<i32>().ok())
                            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
                        None => db.code().is_some_and(|c| {
                            c.starts_with("08") || c.starts_with("53") || c.starts_with("57")
                        }),
                    }
                }
                _ => false,
            },
            StoreError::Unavailable(_) => true,
            _ => false,
        }
    }
}

/// Opens the store `database_url` names, without migrating: each of its calls bounded by
/// `pool.call_deadline()` (see `Bounded`).
/// Stored secrets are sealed and opened with `secrets` (`crate::secrets`).
pub async fn connect(
    database_url: &str,
    pool: PoolSettings,
    secrets: Secrets,
) -> Result<DynStore, StoreError> {
    let suspicion = Arc::new(bounded::Suspicion::new());
    let inner: DynStore =
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            Arc::new(PostgresStore::connect(database_url, pool, suspicion.clone(), secrets).await?)
        } else if database_url.starts_with("sqlite:") {
            Arc::new(SqliteStore::connect(database_url, pool, secrets).await?)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
    Ok(Arc::new(Bounded::new(
        inner,
        pool.call_deadline(),
        suspicion,
    )))
}

/// The name given to an organization's first workspace.
pub const PRIMARY_WORKSPACE_NAME: &str = "primary";

/// The current time at the precision both databases keep (microseconds), for the use cases that
/// write times of their own.
pub fn now_micros() -> DateTime<Utc> {
    now()
}

/// The current time at the precision both databases keep (microseconds), so that a record reads
/// back exactly as it was written on either backend.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
