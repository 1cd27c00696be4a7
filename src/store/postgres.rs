//! The Postgres store: the production choice.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Connection;
use sqlx::postgres::{PgExecutor, PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::batch::Batcher;
use super::rows::{
    self, API_KEY_COLUMNS, TRACKING_COLUMNS, WORKSPACE_COLUMNS, WORKSPACE_INFO_COLUMNS,
};
use super::{
    ApiKeyInfo, Caller, DUE_RECORD, DueQuery, DueRecord, Inserted, NewTracking, Organization,
    PRIMARY_WORKSPACE_NAME, PoolSettings, PoolStats, Readiness, RecordSize, Store, StoreError,
    StoredAnswerJson, TrackingRecord, Workspace, WorkspaceInfo, pick_key, readiness_of,
    results_json, source_names,
};
use crate::domain::{
    KeyHash, Outcome, Position, PostFilter, TrackedStatus, Transition, WorkspacePosition,
};

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
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// An outcome to record, owned so that it can wait for its batch.
struct OutcomeWrite {
    id: Uuid,
    status: TrackedStatus,
    transition: Transition,
    outcome: Outcome,
    answer: Option<StoredAnswerJson>,
}

static INSERT_TRACKING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "insert into scheduled_social_posts_v2 \
             (id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, \
              schedule_date, extra, tracked_status, idempotency_key, idempotency_claim, \
              request_fingerprint, ayrshare_idempotency_key, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $11, $11, $12, $13, $10, $10) \
         on conflict (organization_id, idempotency_claim) where idempotency_claim is not null \
         do nothing \
         returning {TRACKING_COLUMNS}"
    )
});

static RECORD_OUTCOME: LazyLock<String> = LazyLock::new(|| {
    format!(
        "update scheduled_social_posts_v2 set \
             tracked_status = $2, \
             provider_post_id = coalesce($3, provider_post_id), \
             provider_status = coalesce($4, provider_status), \
             results = $5, error = $6, \
             provider_response = coalesce($7, provider_response), \
             stored_answer = coalesce($10, stored_answer), \
             updated_at = $8 \
         where id = $1 and tracked_status = any($9) \
         returning {TRACKING_COLUMNS}"
    )
});

/// Writes the record unless its claim is taken (then `None`).
async fn insert_row<'e>(
    executor: impl PgExecutor<'e>,
    record: &NewTracking,
) -> Result<Option<TrackingRecord>, StoreError> {
    let row: Option<TrackingRow> = sqlx::query_as(&INSERT_TRACKING)
        .bind(record.id)
        .bind(record.organization_id)
        .bind(record.workspace_id)
        .bind(record.api_key_id)
        .bind(&record.post)
        .bind(&record.platforms)
        .bind(&record.media_urls)
        .bind(record.schedule_date)
        .bind(Json(&record.extra))
        .bind(super::now())
        .bind(&record.idempotency_key)
        .bind(&record.request_fingerprint)
        .bind(&record.ayrshare_idempotency_key)
        .fetch_optional(executor)
        .await?;
    row.map(TrackingRecord::try_from).transpose()
}

/// Applies the outcome if the state machine allows it (else `None`).
async fn update_row<'e>(
    executor: impl PgExecutor<'e>,
    write: &OutcomeWrite,
) -> Result<Option<TrackingRecord>, StoreError> {
    let outcome = &write.outcome;
    let row: Option<TrackingRow> = sqlx::query_as(&RECORD_OUTCOME)
        .bind(write.id)
        .bind(write.status.as_str())
        .bind(&outcome.provider_post_id)
        .bind(&outcome.provider_status)
        .bind(Json(results_json(&outcome.results)))
        .bind(outcome.error.as_ref().map(Json))
        .bind(outcome.provider_response.as_ref().map(Json))
        .bind(super::now())
        .bind(source_names(&write.status, write.transition))
        .bind(write.answer.as_ref().map(|a| Json(a.raw())))
        .fetch_optional(executor)
        .await?;
    row.map(TrackingRecord::try_from).transpose()
}

/// One batch of inserts: alone as one statement; together in one transaction, in the order of
/// their claims so that two batches never wait on each other in a cycle.
async fn insert_batch(
    pool: PgPool,
    records: Vec<NewTracking>,
) -> Vec<Result<Option<TrackingRecord>, StoreError>> {
    if let [record] = records.as_slice() {
        return vec![insert_row(&pool, record).await];
    }
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| (records[i].organization_id, &records[i].idempotency_key);
        key(a).cmp(&key(b))
    });
    let together = async {
        let mut tx = pool.begin().await?;
        let mut rows = vec![None; records.len()];
        for &i in &order {
            rows[i] = insert_row(&mut *tx, &records[i]).await?;
        }
        tx.commit().await?;
        Ok::<_, StoreError>(rows)
    };
    match together.await {
        Ok(rows) => rows.into_iter().map(Ok).collect(),
        Err(error) => {
            tracing::warn!(%error, writes = records.len(), "a batch of inserts failed");
            each_alone(&pool, &records, error, insert_row).await
        }
    }
}

/// One batch of outcome updates, like `insert_batch`, in the order of the records' ids.
async fn update_batch(
    pool: PgPool,
    writes: Vec<OutcomeWrite>,
) -> Vec<Result<Option<TrackingRecord>, StoreError>> {
    if let [write] = writes.as_slice() {
        return vec![update_row(&pool, write).await];
    }
    let mut order: Vec<usize> = (0..writes.len()).collect();
    order.sort_by_key(|&i| writes[i].id);
    let together = async {
        let mut tx = pool.begin().await?;
        let mut rows = vec![None; writes.len()];
        for &i in &order {
            rows[i] = update_row(&mut *tx, &writes[i]).await?;
        }
        tx.commit().await?;
        Ok::<_, StoreError>(rows)
    };
    match together.await {
        Ok(rows) => rows.into_iter().map(Ok).collect(),
        Err(error) => {
            tracing::warn!(%error, writes = writes.len(), "a batch of outcome updates failed");
            each_alone(&pool, &writes, error, update_row).await
        }
    }
}

/// After a failed batch (rolled back as a whole): when the database is unreachable each write
/// fails with that; otherwise one write may have spoilt the batch (a constraint, say), so each
/// is tried alone and gets its own answer, as it would have without batching.
async fn each_alone<'p, W, F, Fut>(
    pool: &'p PgPool,
    writes: &'p [W],
    error: StoreError,
    one: F,
) -> Vec<Result<Option<TrackingRecord>, StoreError>>
where
    F: Fn(&'p PgPool, &'p W) -> Fut,
    Fut: Future<Output = Result<Option<TrackingRecord>, StoreError>>,
{
    if error.is_unavailable() {
        let text = error.to_string();
        return writes
            .iter()
            .map(|_| Err(StoreError::Unavailable(text.clone())))
            .collect();
    }
    let mut answers = Vec::with_capacity(writes.len());
    for write in writes {
        answers.push(one(pool, write).await);
    }
    answers
}

type TrackingRow = rows::TrackingRow<Uuid, Vec<String>>;
type WorkspaceRow = rows::WorkspaceRow<Uuid>;
type WorkspaceInfoRow = rows::WorkspaceInfoRow<Uuid>;
type ApiKeyRow = rows::ApiKeyRow<Uuid>;
type OrganizationRow = rows::OrganizationRow<Uuid>;
type DueRow = rows::DueRow<Uuid, Vec<String>>;
type RecordSizeRow = rows::RecordSizeRow<Uuid>;

/// What a record costs to load: the bytes of its text, lists and JSON documents, as the server
/// holds them (`octet_length` of text reads only its header, even when it is stored apart).
const RECORD_BYTES: &str = "(octet_length(post)::bigint \
     + octet_length(array_to_string(platforms, ',')) \
     + octet_length(array_to_string(media_urls, ',')) \
     + octet_length(extra::text) + octet_length(results::text) \
     + coalesce(octet_length(error::text), 0) \
     + coalesce(octet_length(provider_response::text), 0) \
     + coalesce(octet_length(stored_answer::text), 0))";

/// The list's query with `select`: the organization's records matching `filter`, newest first,
/// strictly after `after`, at most `limit`. Only the conditions asked for, so that the planner
/// sees a plain keyset query and walks the index from the cursor (an `$n is null or ...` form
/// would hide that from it).
fn listing(
    select: &str,
    organization_id: Uuid,
    filter: &PostFilter,
    after: Option<Position>,
    limit: i64,
) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "select {select} from scheduled_social_posts_v2 where organization_id = "
    ));
    query.push_bind(organization_id);
    if let Some(status) = filter.tracked_status {
        query
            .push(" and tracked_status = ")
            .push_bind(status.as_str());
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

impl PostgresStore {
    /// Connects a pool as `settings` say.
    pub async fn connect(url: &str, settings: PoolSettings) -> Result<PostgresStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A connection that died with a Postgres restart is found out before it is used, so
            // the service recovers by itself once the database is back. Only one that sat idle
            // is pinged (HikariCP's rule): under load every statement would otherwise cost a
            // second round trip, for connections used a moment ago. (sqlx pings each connection
            // again when it is released, so one that broke in use never goes back to the pool.)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        // A quarter of the pool each for the batches of inserts and of outcome updates, so that
        // reads and the rest always find a connection.
        let in_flight = (settings.max_connections as usize / 4).max(1);
        let inserts = Batcher::start(MAX_BATCH, in_flight, {
            let pool = pool.clone();
            move |records| insert_batch(pool.clone(), records)
        });
        let outcomes = Batcher::start(MAX_BATCH, in_flight, {
            let pool = pool.clone();
            move |writes| update_batch(pool.clone(), writes)
        });
        Ok(PostgresStore {
            pool,
            inserts: Arc::new(inserts),
            outcomes: Arc::new(outcomes),
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
        MIGRATOR.run(&self.pool).await?;
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

    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Caller>, StoreError> {
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(
            "select id, organization_id from api_keys where key_hash = $1 and revoked_at is null",
        )
        .bind(&hash.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(api_key_id, organization_id)| Caller {
            organization_id,
            api_key_id,
        }))
    }

    async fn find_workspace(
        &self,
        organization_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> Result<Option<Workspace>, StoreError> {
        let row: Option<WorkspaceRow> = sqlx::query_as(&format!(
            "select {WORKSPACE_COLUMNS} from workspaces \
             where organization_id = $1 and (id = $2 or ($2 is null and is_primary))"
        ))
        .bind(organization_id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Workspace::from))
    }

    async fn insert_tracking(&self, record: &NewTracking) -> Result<Inserted, StoreError> {
        // A concurrent insert with the same claim waits on the unique index until the first
        // commits, then does nothing: exactly one request per key reaches Ayrshare.
        if let Some(row) = self.inserts.submit(record.clone()).await? {
            return Ok(Inserted::New(row));
        }
        let key = record.idempotency_key.as_deref().unwrap_or_default();
        match self.find_claim(record.organization_id, key).await? {
            Some(holder) => Ok(Inserted::Claimed(holder)),
            // Released between the two statements: the key is free again.
            None => Box::pin(self.insert_tracking(record)).await,
        }
    }

    async fn record_outcome(
        &self,
        id: Uuid,
        transition: Transition,
        outcome: &Outcome,
        answer: Option<&StoredAnswerJson>,
    ) -> Result<TrackingRecord, StoreError> {
        let Some(status) = outcome.tracked_status else {
            return self.tracking_by_id(id).await;
        };
        let write = OutcomeWrite {
            id,
            status,
            transition,
            outcome: outcome.clone(),
            answer: answer.cloned(),
        };
        match self.outcomes.submit(write).await? {
            Some(row) => Ok(row),
            None => self.tracking_by_id(id).await,
        }
    }

    async fn find_claim(
        &self,
        organization_id: Uuid,
        key: &str,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where organization_id = $1 and idempotency_claim = $2"
        ))
        .bind(organization_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn store_answer(&self, id: Uuid, answer: &StoredAnswerJson) -> Result<(), StoreError> {
        sqlx::query(
            "update scheduled_social_posts_v2 set stored_answer = $2 \
             where id = $1 and stored_answer is null and idempotency_claim is not null",
        )
        .bind(id)
        .bind(Json(answer.raw()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn settle_answer(&self, id: Uuid, answer: &StoredAnswerJson) -> Result<(), StoreError> {
        sqlx::query(
            "update scheduled_social_posts_v2 set stored_answer = $2 \
             where id = $1 and idempotency_claim is not null",
        )
        .bind(id)
        .bind(Json(answer.raw()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn release_idempotency_claims(
        &self,
        cutoff: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "update scheduled_social_posts_v2 set idempotency_claim = null, stored_answer = null \
             where id in (select id from scheduled_social_posts_v2 \
                          where idempotency_claim is not null and created_at < $1 \
                          order by created_at limit $2 for update skip locked)",
        )
        .bind(cutoff)
        .bind(batch)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn find_tracking(
        &self,
        organization_id: Uuid,
        id: Uuid,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where id = $1 and organization_id = $2"
        ))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn find_tracking_by_post_id(
        &self,
        organization_id: Uuid,
        provider_post_id: &str,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where provider_post_id = $1 and organization_id = $2 \
             order by created_at desc limit 1"
        ))
        .bind(provider_post_id)
        .bind(organization_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn find_tracking_by_provider_post_id(
        &self,
        provider_post_id: &str,
    ) -> Result<Vec<TrackingRecord>, StoreError> {
        let rows: Vec<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where provider_post_id = $1 order by created_at desc limit 10"
        ))
        .bind(provider_post_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TrackingRecord::try_from).collect()
    }

    async fn claim_due(&self, due: &DueQuery) -> Result<Option<DueRecord>, StoreError> {
        // `skip locked`: a record another replica is claiming right now is passed over, not
        // waited for; its lease then keeps it from being claimed again until it has been worked.
        let row: Option<DueRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set next_check_at = $3 \
             where id = ({DUE_RECORD} for update skip locked) \
             returning {TRACKING_COLUMNS}, check_attempts, overdue_at"
        ))
        .bind(due.now)
        .bind(due.pending_before)
        .bind(due.lease_until)
        .bind(i64::from(due.max_lookups))
        .bind(i64::from(due.max_checks))
        .fetch_optional(&self.pool)
        .await?;
        row.map(DueRecord::try_from).transpose()
    }

    async fn set_next_check(
        &self,
        id: Uuid,
        next_check_at: DateTime<Utc>,
        check_attempts: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update scheduled_social_posts_v2 set next_check_at = $2, check_attempts = $3 \
             where id = $1",
        )
        .bind(id)
        .bind(next_check_at)
        .bind(i64::from(check_attempts))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_overdue(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update scheduled_social_posts_v2 set overdue_at = $2 \
             where id = $1 and overdue_at is null",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_tracking_sizes(
        &self,
        organization_id: Uuid,
        filter: &PostFilter,
        after: Option<Position>,
        limit: i64,
    ) -> Result<Vec<RecordSize>, StoreError> {
        let rows: Vec<RecordSizeRow> = listing(
            &format!("id, created_at, {RECORD_BYTES} as bytes"),
            organization_id,
            filter,
            after,
            limit,
        )
        .build_query_as()
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(RecordSize::from).collect())
    }

    async fn find_trackings(
        &self,
        organization_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<TrackingRecord>, StoreError> {
        let rows: Vec<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where organization_id = $1 and id = any($2) \
             order by created_at desc, id desc"
        ))
        .bind(organization_id)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TrackingRecord::try_from).collect()
    }

    async fn record_schedule_change(
        &self,
        id: Uuid,
        schedule_date: Option<DateTime<Utc>>,
        paused: Option<bool>,
    ) -> Result<TrackingRecord, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set \
                 schedule_date = coalesce($2, schedule_date), \
                 paused = coalesce($3, paused), \
                 updated_at = $4 \
             where id = $1 and tracked_status = 'scheduled' \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(id)
        .bind(schedule_date)
        .bind(paused)
        .bind(super::now())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.try_into(),
            None => self.tracking_by_id(id).await,
        }
    }

    async fn claim_change(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        // A second claim of the same row waits for the first one's commit, then finds the claim
        // taken and updates nothing: exactly one change at a time, across replicas.
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set change_in_flight_until = $3 \
             where id = $1 and (change_in_flight_until is null or change_in_flight_until <= $2) \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(id)
        .bind(now)
        .bind(until)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn release_change(&self, id: Uuid, until: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "update scheduled_social_posts_v2 set change_in_flight_until = null \
             where id = $1 and change_in_flight_until = $2",
        )
        .bind(id)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn ensure_organization(&self, name: &str) -> Result<Organization, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Two concurrent `keys create` for a new name: the loser waits on the unique index and
        // then finds the winner's row.
        let inserted: Option<OrganizationRow> = sqlx::query_as(
            "insert into organizations (id, name, created_at) values ($1, $2, $3) \
             on conflict (name) do nothing returning id, name, created_at",
        )
        .bind(Uuid::new_v4())
        .bind(name)
        .bind(super::now())
        .fetch_optional(&mut *tx)
        .await?;
        let organization = match inserted {
            Some(row) => {
                sqlx::query(
                    "insert into workspaces (id, organization_id, name, is_primary, created_at) \
                     values ($1, $2, $3, true, $4)",
                )
                .bind(Uuid::new_v4())
                .bind(row.id)
                .bind(PRIMARY_WORKSPACE_NAME)
                .bind(super::now())
                .execute(&mut *tx)
                .await?;
                row
            }
            None => {
                sqlx::query_as("select id, name, created_at from organizations where name = $1")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        tx.commit().await?;
        Ok(organization.into())
    }

    async fn find_organization(&self, name: &str) -> Result<Option<Organization>, StoreError> {
        let row: Option<OrganizationRow> =
            sqlx::query_as("select id, name, created_at from organizations where name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Organization::from))
    }

    async fn find_organization_by_id(&self, id: Uuid) -> Result<Option<Organization>, StoreError> {
        let row: Option<OrganizationRow> =
            sqlx::query_as("select id, name, created_at from organizations where id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Organization::from))
    }

    async fn list_workspaces(
        &self,
        organization_id: Uuid,
    ) -> Result<Vec<WorkspaceInfo>, StoreError> {
        let rows: Vec<WorkspaceInfoRow> = sqlx::query_as(&format!(
            "select {WORKSPACE_INFO_COLUMNS} from workspaces where organization_id = $1 \
             order by is_primary desc, created_at, id"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(WorkspaceInfo::from).collect())
    }

    async fn list_workspace_page(
        &self,
        organization_id: Uuid,
        after: Option<WorkspacePosition>,
        limit: i64,
    ) -> Result<Vec<WorkspaceInfo>, StoreError> {
        // The one primary workspace comes first: after it, every other one; after another one,
        // those later in (created_at, id).
        let rows: Vec<WorkspaceInfoRow> = sqlx::query_as(&format!(
            "select {WORKSPACE_INFO_COLUMNS} from workspaces where organization_id = $1 \
             and ($2::boolean is null \
                  or ($2 and not is_primary) \
                  or (not $2 and not is_primary and (created_at, id) > ($3, $4))) \
             order by is_primary desc, created_at, id limit $5"
        ))
        .bind(organization_id)
        .bind(after.map(|a| a.is_primary))
        .bind(after.map(|a| a.created_at))
        .bind(after.map(|a| a.id))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(WorkspaceInfo::from).collect())
    }

    async fn count_organizations(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select count(*) from organizations")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_workspace(
        &self,
        organization_id: Uuid,
        name: &str,
        ayrshare_profile_key: Option<&str>,
    ) -> Result<Workspace, StoreError> {
        let row: Option<WorkspaceRow> = sqlx::query_as(&format!(
            "insert into workspaces (id, organization_id, name, is_primary, ayrshare_profile_key, created_at) \
             values ($1, $2, $3, false, $4, $5) \
             on conflict (organization_id, name) do nothing returning {WORKSPACE_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(organization_id)
        .bind(name)
        .bind(ayrshare_profile_key)
        .bind(super::now())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Workspace::from)
            .ok_or_else(|| StoreError::Conflict(format!("a workspace named {name} already exists")))
    }

    async fn insert_api_key(
        &self,
        organization_id: Uuid,
        hash: &KeyHash,
        prefix: &str,
        label: Option<&str>,
    ) -> Result<ApiKeyInfo, StoreError> {
        let row: ApiKeyRow = sqlx::query_as(&format!(
            "insert into api_keys (id, organization_id, key_hash, prefix, label, created_at) \
             values ($1, $2, $3, $4, $5, $6) returning {API_KEY_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(organization_id)
        .bind(&hash.0)
        .bind(prefix)
        .bind(label)
        .bind(super::now())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    async fn list_api_keys(&self, organization_id: Uuid) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "select {API_KEY_COLUMNS} from api_keys where organization_id = $1 \
             order by created_at, id"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ApiKeyInfo::from).collect())
    }

    async fn find_api_key(&self, id: Uuid) -> Result<Option<ApiKeyInfo>, StoreError> {
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
            "select {API_KEY_COLUMNS} from api_keys where id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(ApiKeyInfo::from))
    }

    async fn touch_api_key(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update api_keys set last_used_at = $2 \
             where id = $1 and (last_used_at is null or last_used_at < $3)",
        )
        .bind(id)
        .bind(at)
        .bind(not_before)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revoke_api_key(&self, id_or_prefix: &str) -> Result<ApiKeyInfo, StoreError> {
        let id = Uuid::parse_str(id_or_prefix).ok();
        let mut tx = self.pool.begin().await?;
        let found: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "select {API_KEY_COLUMNS} from api_keys where id = $1 or prefix = $2 for update"
        ))
        .bind(id)
        .bind(id_or_prefix)
        .fetch_all(&mut *tx)
        .await?;
        let key = pick_key(
            id_or_prefix,
            found.into_iter().map(ApiKeyInfo::from).collect(),
        )?;
        let row: ApiKeyRow = sqlx::query_as(&format!(
            "update api_keys set revoked_at = coalesce(revoked_at, $2) where id = $1 \
             returning {API_KEY_COLUMNS}"
        ))
        .bind(key.id)
        .bind(super::now())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }
}
