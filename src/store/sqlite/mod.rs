//! The SQLite store: the embedded default, so the service runs with no database server.
//!
//! Same schema and behaviour as the Postgres store; uuids are kept as hyphenated text and arrays
//! as JSON text, so the file stays readable with the `sqlite3` shell.

mod accounts;
mod comments;
mod connections;
mod deliveries;
mod endpoints;
mod events;
mod posts;
mod stored_secrets;

use crate::store::AccountStore;
use crate::store::PostStore;
use crate::store::Secrets;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use super::accounts::pick_key;
use super::posts::{due_record, possible_owners_sql, results_json, source_names};
use super::rows::{
    self, API_KEY_COLUMNS, EVENT_COLUMNS, TRACKING_COLUMNS, WORKSPACE_COLUMNS,
    WORKSPACE_INFO_COLUMNS,
};
use super::{
    ApiKeyInfo, Caller, DueQuery, DueRecord, Inserted, NewTracking, Organization,
    PRIMARY_WORKSPACE_NAME, PoolSettings, PoolStats, Readiness, RecordSize, Store, StoreError,
    StoredAnswerJson, TrackingRecord, Workspace, WorkspaceInfo, readiness_of,
};
use crate::domain::{
    ChangePosition, KeyHash, Outcome, Position, PostFilter, Transition, WorkspacePosition,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Storage in a SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    secrets: Secrets,
}

type TrackingRow = rows::TrackingRow<Hyphenated, Json<Vec<String>>>;
type WorkspaceRow = rows::WorkspaceRow<Hyphenated>;
type WorkspaceInfoRow = rows::WorkspaceInfoRow<Hyphenated>;
type ApiKeyRow = rows::ApiKeyRow<Hyphenated>;
type OrganizationRow = rows::OrganizationRow<Hyphenated>;
type DueRow = rows::DueRow<Hyphenated, Json<Vec<String>>>;
type RecordSizeRow = rows::RecordSizeRow<Hyphenated>;
type ChangeSizeRow = rows::ChangeSizeRow<Hyphenated>;

/// What a record costs to load: the bytes of its text and JSON documents (`provider_response`
/// is not loaded, so it does not count).
const RECORD_BYTES: &str = "(length(cast(post as blob)) + length(cast(platforms as blob)) \
     + length(cast(media_urls as blob)) + length(cast(extra as blob)) \
     + length(cast(results as blob)) + coalesce(length(cast(error as blob)), 0) \
     + coalesce(length(cast(stored_answer as blob)), 0))";

/// The list's query with `select` up to its filters: the organization's records matching
/// `filter`. Only the conditions asked for, so that the planner sees a plain keyset query and
/// walks the index from the cursor (an `$n is null or ...` form would hide that from it).
fn matching(
    select: &str,
    organization_id: Uuid,
    filter: &PostFilter,
) -> QueryBuilder<'static, Sqlite> {
    let mut query = QueryBuilder::<Sqlite>::new(format!(
        "select {select} from scheduled_social_posts_v2 where organization_id = "
    ));
    query.push_bind(organization_id.hyphenated());
    if !filter.tracked_status.is_empty() {
        query.push(" and tracked_status in (");
        let mut names = query.separated(", ");
        for status in &filter.tracked_status {
            names.push_bind(status.as_str());
        }
        query.push(")");
    }
    if let Some(platform) = filter.platform {
        query
            .push(" and exists (select 1 from json_each(platforms) where value = ")
            .push_bind(platform.as_str())
            .push(")");
    }
    if let Some(workspace_id) = filter.workspace_id {
        query
            .push(" and workspace_id = ")
            .push_bind(workspace_id.hyphenated());
    }
    if let Some(after) = filter.created_after {
        query.push(" and created_at > ").push_bind(after);
    }
    if let Some(before) = filter.created_before {
        query.push(" and created_at < ").push_bind(before);
    }
    if let Some(after) = filter.updated_after {
        query.push(" and updated_at > ").push_bind(after);
    }
    query
}

/// The list newest first: `matching`, strictly after `after`, at most `limit`.
fn listing(
    select: &str,
    organization_id: Uuid,
    filter: &PostFilter,
    after: Option<Position>,
    limit: i64,
) -> QueryBuilder<'static, Sqlite> {
    let mut query = matching(select, organization_id, filter);
    if let Some(position) = after {
        query
            .push(" and (created_at, id) < (")
            .push_bind(position.created_at)
            .push(", ")
            .push_bind(position.id.hyphenated())
            .push(")");
    }
    query
        .push(" order by created_at desc, id desc limit ")
        .push_bind(limit);
    query
}

/// The changes feed: `matching`, in the order of `change_xid`, strictly after `after`, at most
/// `limit`. SQLite has one writer at a time, and the triggers of the migration `changes_feed`
/// number each change inside the writing transaction, one past the largest number so far: the
/// numbers grow in commit order, so every change a reader sees is listed before any it does
/// not see yet.
fn changes(
    select: &str,
    organization_id: Uuid,
    filter: &PostFilter,
    after: Option<ChangePosition>,
    limit: i64,
) -> QueryBuilder<'static, Sqlite> {
    let mut query = matching(select, organization_id, filter);
    if let Some(position) = after {
        query
            .push(" and (change_xid, id) > (")
            .push_bind(position.change)
            .push(", ")
            .push_bind(position.id.hyphenated())
            .push(")");
    }
    query
        .push(" order by change_xid, id limit ")
        .push_bind(limit);
    query
}

impl SqliteStore {
    /// Opens (creating if missing) the database file `url` names.
    pub async fn connect(
        url: &str,
        settings: PoolSettings,
        secrets: Secrets,
    ) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            // WAL lets readers run beside the single writer; FULL makes a commit durable before
            // Ayrshare is called, which is the point of the write-ahead tracking record.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // A file locked by another writer is SQLite's frozen database: a statement waits
            // for it at most this long, then fails as unavailable.
            .busy_timeout(settings.statement_timeout)
            // A value overwritten (a plain profile key sealed, a secret re-sealed by a
            // rotation) is zeroed in the file rather than left in a free page.
            .pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A file does not hang up: no ping (a round trip to the connection's worker thread)
            // before each statement.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool, secrets })
    }

    async fn tracking_by_id(&self, id: Uuid) -> Result<TrackingRecord, StoreError> {
        let row: TrackingRow = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 where id = $1"
        ))
        .bind(id.hyphenated())
        .fetch_one(&self.pool)
        .await?;
        row.try_into()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn readiness(&self) -> Result<Readiness, StoreError> {
        // A fresh database has no migrations table at all: not ready, rather than an error.
        let has_table: bool = sqlx::query_scalar("select exists (select 1 from sqlite_master where type = 'table' and name = '_sqlx_migrations')")
            .fetch_one(&self.pool)
            .await?;
        let applied = if has_table {
            Some(
                sqlx::query_scalar("select version from _sqlx_migrations where success")
                    .fetch_all(&self.pool)
                    .await?,
            )
        } else {
            None
        };
        Ok(readiness_of(&MIGRATOR, applied))
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
        }
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }
}
