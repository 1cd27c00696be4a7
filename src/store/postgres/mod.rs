//! The Postgres store: the production choice.

mod accounts;
mod comments;
mod connections;
mod deliveries;
mod endpoints;
mod events;
mod group_writes;
mod held;
mod posts;
mod stored_secrets;

use crate::store::AccountStore;
use crate::store::PostStore;
use crate::store::Secrets;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{Connection, Executor};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::accounts::pick_key;
use super::batch::Batcher;
use super::bounded::{Suspicion, within};
use super::posts::{due_record, possible_owners_sql};
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
use group_writes::{OutcomeWrite, insert_batch, timed_out, update_batch};
use held::Held;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a connection may sit idle before it is checked with a ping before use.
const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_millis(500);

/// The most writes one transaction carries.
const MAX_BATCH: usize = 32;

/// Storage on a Postgres pool. The write-ahead inserts and the outcome updates of concurrent
/// requests share commits (see `batch`).
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    inserts: Arc<Batcher<NewTracking, Option<TrackingRecord>>>,
    outcomes: Arc<Batcher<OutcomeWrite, Option<TrackingRecord>>>,
    secrets: Secrets,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

type TrackingRow = rows::TrackingRow<Uuid, Vec<String>>;
type WorkspaceRow = rows::WorkspaceRow<Uuid>;
type WorkspaceInfoRow = rows::WorkspaceInfoRow<Uuid>;
type ApiKeyRow = rows::ApiKeyRow<Uuid>;
type OrganizationRow = rows::OrganizationRow<Uuid>;
type DueRow = rows::DueRow<Uuid, Vec<String>>;
type RecordSizeRow = rows::RecordSizeRow<Uuid>;
type ChangeSizeRow = rows::ChangeSizeRow<Uuid>;

/// What a record costs to load: the bytes of its text, lists and JSON documents, as the server
/// holds them (`octet_length` of text reads only its header, even when it is stored apart).
/// `provider_response` is not loaded (`TRACKING_COLUMNS`), so it does not count.
const RECORD_BYTES: &str = "(octet_length(post)::bigint \
     + octet_length(array_to_string(platforms, ',')) \
     + octet_length(array_to_string(media_urls, ',')) \
     + octet_length(extra::text) + octet_length(results::text) \
     + coalesce(octet_length(error::text), 0) \
     + coalesce(octet_length(stored_answer::text), 0))";

/// The list's query with `select` up to its filters: the organization's records matching
/// `filter`. Only the conditions asked for, so that the planner sees a plain keyset query and
/// walks the index from the cursor (an `$n is null or ...` form would hide that from it).
fn matching(
    select: &str,
    organization_id: Uuid,
    filter: &PostFilter,
) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "select {select} from scheduled_social_posts_v2 where organization_id = "
    ));
    query.push_bind(organization_id);
    match filter.tracked_status.as_slice() {
        [] => {}
        // One status stays an equality, which the status index serves in `created_at` order.
        [status] => {
            query
                .push(" and tracked_status = ")
                .push_bind(status.as_str());
        }
        statuses => {
            let names: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
            query
                .push(" and tracked_status = any(")
                .push_bind(names)
                .push(")");
        }
    }
    if let Some(platform) = filter.platform {
        query
            .push(" and ")
            .push_bind(platform.as_str())
            .push(" = any(platforms)");
    }
    if let Some(workspace_id) = filter.workspace_id {
        query.push(" and workspace_id = ").push_bind(workspace_id);
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
) -> QueryBuilder<'static, Postgres> {
    let mut query = matching(select, organization_id, filter);
    if let Some(position) = after {
        query
            .push(" and (created_at, id) < (")
            .push_bind(position.created_at)
            .push(", ")
            .push_bind(position.id)
            .push(")");
    }
    query
        .push(" order by created_at desc, id desc limit ")
        .push_bind(limit);
    query
}

/// The changes feed: `matching`, in the order of `change_xid` (the id of the transaction that
/// last changed the record, set by a trigger; see the migration `changes_feed`), strictly
/// after `after`, at most `limit`.
///
/// Transaction ids are handed out when a transaction starts writing, not when it commits, so
/// a change with a smaller id can still commit after a larger one was listed. Only changes
/// below the oldest transaction still running when the statement's snapshot was taken
/// (`pg_snapshot_xmin`) are listed: every transaction below it has ended, so nothing can ever
/// commit behind the cursor. A change waits for the writes running beside it (each bounded by
/// the statement timeout), never longer.
fn changes(
    select: &str,
    organization_id: Uuid,
    filter: &PostFilter,
    after: Option<ChangePosition>,
    limit: i64,
) -> QueryBuilder<'static, Postgres> {
    let mut query = matching(select, organization_id, filter);
    query.push(" and change_xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
    if let Some(position) = after {
        query
            .push(" and (change_xid, id) > (")
            .push_bind(position.change)
            .push(", ")
            .push_bind(position.id)
            .push(")");
    }
    query
        .push(" order by change_xid, id limit ")
        .push_bind(limit);
    query
}

impl PostgresStore {
    /// Connects a pool as `settings` say; while `suspicion` says a call was cut short lately,
    /// each connection going back to the pool is checked within the statement timeout.
    pub(super) async fn connect(
        url: &str,
        settings: PoolSettings,
        suspicion: Arc<Suspicion>,
        secrets: Secrets,
    ) -> Result<PostgresStore, StoreError> {
        // The server ends a statement, or a transaction left idle, past the bound by itself,
        // even when this process has gone away. Set on each new connection rather than as a
        // startup parameter, which PgBouncer refuses by default.
        let bounds = format!(
            "set statement_timeout = {ms}; set idle_in_transaction_session_timeout = {ms}",
            ms = settings.statement_timeout.as_millis()
        );
        let options = url.parse::<PgConnectOptions>()?;
        let release_check = settings.statement_timeout;
        let checked = suspicion.clone();
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A connection that died with a Postgres restart is found out before it is used, so
            // the service recovers by itself once the database is back. Only one that sat idle
            // is pinged (HikariCP's rule): under load every statement would otherwise cost a
            // second round trip, for connections used a moment ago. (sqlx pings each connection
            // again when it is released, so one that broke in use never goes back to the pool.)
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                let bounds = bounds.clone();
                Box::pin(async move {
                    conn.execute(bounds.as_str()).await?;
                    Ok(())
                })
            })
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            // sqlx's own ping on release has no bound: a connection whose call was cut short on
            // a frozen database would wait in it for ever, holding its place in the pool. So
            // while a call was cut lately, the ping runs here first, bounded; an error closes
            // the connection without a word to the server (there is nobody listening). Over
            // TLS that close still waits for the socket (sqlx's rustls flush reads when it has
            // nothing to write), so there the connection keeps its place until the socket
            // answers or breaks: see docs/operations.md.
            .after_release(move |conn, _| {
                let suspicious = checked.is_recent();
                Box::pin(async move {
                    if !suspicious {
                        return Ok(true);
                    }
                    match tokio::time::timeout(release_check, conn.ping()).await {
                        Ok(pinged) => pinged.map(|()| true),
                        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "a connection going back to the pool did not answer its check",
                        ))),
                    }
                })
            })
            .connect_with(options)
            .await?;
        // A quarter of the pool each for the batches of inserts and of outcome updates, so that
        // reads and the rest always find a connection.
        let in_flight = (settings.max_connections as usize / 4).max(1);
        // A batch gets a call's deadline too: one written by the batch task has no caller
        // whose deadline would end it.
        let deadline = settings.call_deadline();
        // A lone write runs on a connection kept from the write before (see `held`): one per
        // batch allowed in flight.
        let inserts = Batcher::start(MAX_BATCH, in_flight, {
            let (pool, suspicion) = (pool.clone(), suspicion.clone());
            let held = Held::new(pool.clone(), in_flight);
            move |records| {
                let (pool, suspicion, held) = (pool.clone(), suspicion.clone(), held.clone());
                async move {
                    let writes = records.len();
                    let batch = within(deadline, &suspicion, insert_batch(pool, &held, records));
                    batch.await.unwrap_or_else(|| timed_out(deadline, writes))
                }
            }
        });
        let outcomes = Batcher::start(MAX_BATCH, in_flight, {
            let (pool, suspicion) = (pool.clone(), suspicion.clone());
            let held = Held::new(pool.clone(), in_flight);
            move |writes| {
                let (pool, suspicion, held) = (pool.clone(), suspicion.clone(), held.clone());
                async move {
                    let count = writes.len();
                    let batch = within(deadline, &suspicion, update_batch(pool, &held, writes));
                    batch.await.unwrap_or_else(|| timed_out(deadline, count))
                }
            }
        });
        Ok(PostgresStore {
            pool,
            inserts: Arc::new(inserts),
            outcomes: Arc::new(outcomes),
            secrets,
        })
    }

    async fn tracking_by_id(&self, id: Uuid) -> Result<TrackingRecord, StoreError> {
        let row: TrackingRow = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 where id = $1"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        row.try_into()
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        // A migration may take long (an index on a big table, another replica's migration
        // lock): it runs on a connection of its own without the statement timeout.
        let migrating = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(self.pool.options().get_acquire_timeout())
            .connect_with((*self.pool.connect_options()).clone())
            .await?;
        let migrated = MIGRATOR.run(&migrating).await;
        migrating.close().await;
        migrated?;
        Ok(())
    }

    async fn readiness(&self) -> Result<Readiness, StoreError> {
        // A fresh database has no migrations table at all: not ready, rather than an error.
        let has_table: bool =
            sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// On the Postgres of `DATABASE_URL`; skipped without one (the API tests make the same
    /// choice, and CI sets it).
    #[tokio::test]
    async fn the_server_ends_a_statement_that_runs_past_the_statement_timeout() {
        let Some(url) = std::env::var("DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        else {
            return;
        };
        let settings = PoolSettings {
            statement_timeout: Duration::from_secs(1),
            ..PoolSettings::default()
        };
        let store = PostgresStore::connect(
            &url,
            settings,
            Arc::new(Suspicion::new()),
            Secrets::default(),
        )
        .await
        .unwrap();
        let started = Instant::now();
        let error = StoreError::from(
            sqlx::query("select pg_sleep(10)")
                .execute(&store.pool)
                .await
                .unwrap_err(),
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{error}");
        let StoreError::Database(sqlx::Error::Database(db)) = &error else {
            panic!("{error}");
        };
        assert_eq!(db.code().as_deref(), Some("57014"), "query_canceled");
        assert!(error.is_unavailable());
        // ... but the server answered: the breaker stays closed for everyone else.
        assert!(error.is_statement_timeout());
        assert!(!StoreError::Unavailable("cut".into()).is_statement_timeout());
    }
}
