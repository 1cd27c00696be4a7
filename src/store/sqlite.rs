//! The SQLite store: the embedded default, so the service runs with no database server.
//!
//! Same schema and behaviour as the Postgres store; uuids are kept as hyphenated text and arrays
//! as JSON text, so the file stays readable with the `sqlite3` shell.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use super::rows::{
    self, API_KEY_COLUMNS, TRACKING_COLUMNS, WORKSPACE_COLUMNS, WORKSPACE_INFO_COLUMNS,
};
use super::{
    ApiKeyInfo, Caller, DUE_RECORD, DueQuery, DueRecord, Inserted, NewTracking, Organization,
    PRIMARY_WORKSPACE_NAME, PoolSettings, PoolStats, Readiness, RecordSize, Store, StoreError,
    StoredAnswerJson, TrackingRecord, Workspace, WorkspaceInfo, pick_key, readiness_of,
    results_json, source_names,
};
use crate::domain::{KeyHash, Outcome, Position, PostFilter, Transition, WorkspacePosition};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Storage in a SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

type TrackingRow = rows::TrackingRow<Hyphenated, Json<Vec<String>>>;
type WorkspaceRow = rows::WorkspaceRow<Hyphenated>;
type WorkspaceInfoRow = rows::WorkspaceInfoRow<Hyphenated>;
type ApiKeyRow = rows::ApiKeyRow<Hyphenated>;
type OrganizationRow = rows::OrganizationRow<Hyphenated>;
type DueRow = rows::DueRow<Hyphenated, Json<Vec<String>>>;
type RecordSizeRow = rows::RecordSizeRow<Hyphenated>;

/// What a record costs to load: the bytes of its text and JSON documents.
const RECORD_BYTES: &str = "(length(cast(post as blob)) + length(cast(platforms as blob)) \
     + length(cast(media_urls as blob)) + length(cast(extra as blob)) \
     + length(cast(results as blob)) + coalesce(length(cast(error as blob)), 0) \
     + coalesce(length(cast(provider_response as blob)), 0) \
     + coalesce(length(cast(stored_answer as blob)), 0))";

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
) -> QueryBuilder<'static, Sqlite> {
    let mut query = QueryBuilder::<Sqlite>::new(format!(
        "select {select} from scheduled_social_posts_v2 where organization_id = "
    ));
    query.push_bind(organization_id.hyphenated());
    if let Some(status) = filter.tracked_status {
        query
            .push(" and tracked_status = ")
            .push_bind(status.as_str());
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

impl SqliteStore {
    /// Opens (creating if missing) the database file `url` names.
    pub async fn connect(url: &str, settings: PoolSettings) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            // WAL lets readers run beside the single writer; FULL makes a commit durable before
            // Ayrshare is called, which is the point of the write-ahead tracking record.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A file does not hang up: no ping (a round trip to the connection's worker thread)
            // before each statement.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
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

    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Caller>, StoreError> {
        let row: Option<(Hyphenated, Hyphenated)> = sqlx::query_as(
            "select id, organization_id from api_keys where key_hash = $1 and revoked_at is null",
        )
        .bind(&hash.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(key, organization)| Caller {
            organization_id: organization.into_uuid(),
            api_key_id: key.into_uuid(),
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
        .bind(organization_id.hyphenated())
        .bind(workspace_id.map(Uuid::hyphenated))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Workspace::from))
    }

    async fn insert_tracking(&self, record: &NewTracking) -> Result<Inserted, StoreError> {
        // SQLite has one writer at a time, so the unique index decides between two requests
        // with the same claim just as Postgres does.
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "insert into scheduled_social_posts_v2 \
                 (id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, \
                  schedule_date, extra, tracked_status, idempotency_key, idempotency_claim, \
                  request_fingerprint, ayrshare_idempotency_key, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $11, $11, $12, $13, $10, $10) \
             on conflict (organization_id, idempotency_claim) where idempotency_claim is not null \
             do nothing \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(record.id.hyphenated())
        .bind(record.organization_id.hyphenated())
        .bind(record.workspace_id.hyphenated())
        .bind(record.api_key_id.hyphenated())
        .bind(&record.post)
        .bind(Json(&record.platforms))
        .bind(Json(&record.media_urls))
        .bind(record.schedule_date)
        .bind(Json(&record.extra))
        .bind(super::now())
        .bind(&record.idempotency_key)
        .bind(&record.request_fingerprint)
        .bind(&record.ayrshare_idempotency_key)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(Inserted::New(row.try_into()?));
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
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set \
                 tracked_status = $2, \
                 provider_post_id = coalesce($3, provider_post_id), \
                 provider_status = coalesce($4, provider_status), \
                 results = $5, error = $6, \
                 provider_response = coalesce($7, provider_response), \
                 stored_answer = coalesce($10, stored_answer), \
                 updated_at = $8 \
             where id = $1 and tracked_status in (select value from json_each($9)) \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(id.hyphenated())
        .bind(status.as_str())
        .bind(&outcome.provider_post_id)
        .bind(&outcome.provider_status)
        .bind(Json(results_json(&outcome.results)))
        .bind(outcome.error.as_ref().map(Json))
        .bind(outcome.provider_response.as_ref().map(Json))
        .bind(super::now())
        .bind(Json(source_names(&status, transition)))
        .bind(answer.map(|a| Json(a.raw())))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.try_into(),
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
        .bind(organization_id.hyphenated())
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
        .bind(id.hyphenated())
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
        .bind(id.hyphenated())
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
                          order by created_at limit $2)",
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
        .bind(id.hyphenated())
        .bind(organization_id.hyphenated())
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
        .bind(organization_id.hyphenated())
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
        // SQLite has one writer at a time: the select and the update are one statement, so two
        // reconcilers on one file cannot claim the same record.
        let row: Option<DueRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set next_check_at = $3 \
             where id = ({DUE_RECORD}) \
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
        .bind(id.hyphenated())
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
        .bind(id.hyphenated())
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
        let ids: Vec<Hyphenated> = ids.iter().map(|id| id.hyphenated()).collect();
        let rows: Vec<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where organization_id = $1 and id in (select value from json_each($2)) \
             order by created_at desc, id desc"
        ))
        .bind(organization_id.hyphenated())
        .bind(Json(ids))
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
        .bind(id.hyphenated())
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
        // One writer at a time: the check and the claim are one statement.
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set change_in_flight_until = $3 \
             where id = $1 and (change_in_flight_until is null or change_in_flight_until <= $2) \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(id.hyphenated())
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
        .bind(id.hyphenated())
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn ensure_organization(&self, name: &str) -> Result<Organization, StoreError> {
        // `begin immediate` would be the SQLite way to take the write lock up front; the insert
        // below takes it anyway, and `on conflict do nothing` settles a race the same way.
        let mut tx = self.pool.begin().await?;
        let inserted: Option<OrganizationRow> = sqlx::query_as(
            "insert into organizations (id, name, created_at) values ($1, $2, $3) \
             on conflict (name) do nothing returning id, name, created_at",
        )
        .bind(Uuid::new_v4().hyphenated())
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
                .bind(Uuid::new_v4().hyphenated())
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
                .bind(id.hyphenated())
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
        .bind(organization_id.hyphenated())
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
             and ($2 is null \
                  or ($2 and not is_primary) \
                  or (not $2 and not is_primary and (created_at, id) > ($3, $4))) \
             order by is_primary desc, created_at, id limit $5"
        ))
        .bind(organization_id.hyphenated())
        .bind(after.map(|a| a.is_primary))
        .bind(after.map(|a| a.created_at))
        .bind(after.map(|a| a.id.hyphenated()))
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
        .bind(Uuid::new_v4().hyphenated())
        .bind(organization_id.hyphenated())
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
        .bind(Uuid::new_v4().hyphenated())
        .bind(organization_id.hyphenated())
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
        .bind(organization_id.hyphenated())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ApiKeyInfo::from).collect())
    }

    async fn find_api_key(&self, id: Uuid) -> Result<Option<ApiKeyInfo>, StoreError> {
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
            "select {API_KEY_COLUMNS} from api_keys where id = $1"
        ))
        .bind(id.hyphenated())
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
        .bind(id.hyphenated())
        .bind(at)
        .bind(not_before)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revoke_api_key(&self, id_or_prefix: &str) -> Result<ApiKeyInfo, StoreError> {
        let id = Uuid::parse_str(id_or_prefix).ok();
        // Take the write lock up front: a transaction that reads first and then writes cannot
        // wait for a running server's own write (its `last_used_at` touch) and fails with
        // "database is locked" instead; `begin immediate` waits its busy timeout like any write.
        let mut tx = self.pool.begin_with("begin immediate").await?;
        let found: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "select {API_KEY_COLUMNS} from api_keys where id = $1 or prefix = $2"
        ))
        .bind(id.map(Uuid::hyphenated))
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
        .bind(key.id.hyphenated())
        .bind(super::now())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }
}
