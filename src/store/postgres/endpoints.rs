//! Webhook endpoints on Postgres: the `EndpointStore` half of [`PostgresStore`].

use serde_json::Value;

use super::*;
use crate::domain::webhook_endpoint::{EndpointChange, EndpointPosition, Redelivery};
use crate::store::endpoints::{
    ATTEMPT_COLUMNS, AttemptRow, DISABLED_BY_CALLER, ENDPOINT_COLUMNS, QUEUE_TEST_DELIVERY,
    ROTATE_SECRET, UPDATE_ENDPOINT,
};
use crate::store::{EndpointStore, NewStoredEndpoint, StoredAttempt, StoredEndpoint};

type EndpointRow = crate::store::endpoints::EndpointRow<Uuid, Vec<String>>;

/// The redelivery's insert: the organization's events the endpoint's filters let through, and
/// `{cond}` (on `$4`), oldest first, at most `$5`.
fn redeliver_sql(cond: &str) -> String {
    format!(
        "insert into webhook_deliveries \
         (endpoint_id, event_id, event_type, event_seq, next_attempt_at, created_at) \
         select e.id, ev.event_id, ev.type, ev.seq, $3, $3 \
         from webhook_endpoints e \
         join social_post_events ev on ev.organization_id = e.organization_id \
         where e.id = $1 and e.organization_id = $2 \
           and (e.workspace_id is null or e.workspace_id = ev.workspace_id) \
           and (e.event_types is null or ev.type = any (e.event_types)) \
           and {cond} \
         order by ev.seq limit $5"
    )
}

#[async_trait]
impl EndpointStore for PostgresStore {
    async fn create_endpoint(
        &self,
        endpoint: &NewStoredEndpoint,
        max: u32,
    ) -> Result<Option<StoredEndpoint>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Creates of one organization take turns on its row, so that the count below stays
        // true until the insert commits. `no key update` does not block the posts' foreign keys.
        let organization: Option<Uuid> =
            sqlx::query_scalar("select id from organizations where id = $1 for no key update")
                .bind(endpoint.organization_id)
                .fetch_optional(&mut *tx)
                .await?;
        if organization.is_none() {
            return Err(StoreError::NotFound("no such organization".into()));
        }
        let count: i64 =
            sqlx::query_scalar("select count(*) from webhook_endpoints where organization_id = $1")
                .bind(endpoint.organization_id)
                .fetch_one(&mut *tx)
                .await?;
        if count >= i64::from(max) {
            return Ok(None);
        }
        let row: EndpointRow = sqlx::query_as(&format!(
            "insert into webhook_endpoints (id, organization_id, workspace_id, url, event_types, \
             description, secret, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $8) returning {ENDPOINT_COLUMNS}"
        ))
        .bind(endpoint.id)
        .bind(endpoint.organization_id)
        .bind(endpoint.workspace_id)
        .bind(&endpoint.url)
        .bind(&endpoint.event_types)
        .bind(&endpoint.description)
        .bind(&endpoint.sealed_secret)
        .bind(endpoint.created_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(row.into()))
    }

    async fn list_endpoints(
        &self,
        organization_id: Uuid,
        after: Option<EndpointPosition>,
        limit: i64,
    ) -> Result<Vec<StoredEndpoint>, StoreError> {
        let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
            "select {ENDPOINT_COLUMNS} from webhook_endpoints where organization_id = $1 \
             and ($2::timestamptz is null or (created_at, id) > ($2, $3)) \
             order by created_at, id limit $4"
        ))
        .bind(organization_id)
        .bind(after.map(|p| p.created_at))
        .bind(after.map(|p| p.id))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(StoredEndpoint::from).collect())
    }

    async fn find_endpoint(
        &self,
        organization_id: Uuid,
        id: Uuid,
    ) -> Result<Option<StoredEndpoint>, StoreError> {
        let row: Option<EndpointRow> = sqlx::query_as(&format!(
            "select {ENDPOINT_COLUMNS} from webhook_endpoints \
             where id = $1 and organization_id = $2"
        ))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(StoredEndpoint::from))
    }

    async fn update_endpoint(
        &self,
        organization_id: Uuid,
        id: Uuid,
        change: &EndpointChange,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredEndpoint>, StoreError> {
        let row: Option<EndpointRow> =
            sqlx::query_as(&format!("{UPDATE_ENDPOINT} returning {ENDPOINT_COLUMNS}"))
                .bind(id)
                .bind(organization_id)
                .bind(&change.url)
                .bind(change.event_types.is_some())
                .bind(change.event_types.clone().flatten())
                .bind(change.description.is_some())
                .bind(change.description.clone().flatten())
                .bind(change.disabled)
                .bind(DISABLED_BY_CALLER)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(StoredEndpoint::from))
    }

    async fn delete_endpoint(&self, organization_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        // The queue and the log have no foreign keys on Postgres (they cost every queued event
        // a lock of the endpoint's row: the migration `webhook_deliveries_lean`), so what the
        // cascades did is done here, in the same transaction. The endpoint goes first: a
        // fan-out that starts after this commits no longer sees it.
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("delete from webhook_endpoints where id = $1 and organization_id = $2")
                .bind(id)
                .bind(organization_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("delete from webhook_attempts where endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from webhook_deliveries where endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rotate_endpoint_secret(
        &self,
        organization_id: Uuid,
        id: Uuid,
        sealed_secret: &str,
        previous_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredEndpoint>, StoreError> {
        let row: Option<EndpointRow> =
            sqlx::query_as(&format!("{ROTATE_SECRET} returning {ENDPOINT_COLUMNS}"))
                .bind(id)
                .bind(organization_id)
                .bind(previous_until)
                .bind(sealed_secret)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(StoredEndpoint::from))
    }

    async fn queue_test_delivery(
        &self,
        organization_id: Uuid,
        id: Uuid,
        event_id: &str,
        payload: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(QUEUE_TEST_DELIVERY)
            .bind(id)
            .bind(organization_id)
            .bind(event_id)
            .bind(crate::domain::webhook_endpoint::TEST_EVENT_TYPE)
            .bind(Json(payload))
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn redeliver(
        &self,
        organization_id: Uuid,
        id: Uuid,
        what: &Redelivery,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let sql = match what {
            Redelivery::Event(_) => redeliver_sql("ev.event_id = $4"),
            Redelivery::Since(_) => redeliver_sql("ev.updated_at >= $4"),
        };
        let query = sqlx::query(&sql).bind(id).bind(organization_id).bind(now);
        let query = match what {
            Redelivery::Event(event_id) => query.bind(event_id.as_str()),
            Redelivery::Since(since) => query.bind(*since),
        };
        let done = query.bind(limit).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn list_attempts(
        &self,
        endpoint_id: Uuid,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredAttempt>, StoreError> {
        let rows: Vec<AttemptRow> = sqlx::query_as(&format!(
            "select {ATTEMPT_COLUMNS} from webhook_attempts where endpoint_id = $1 \
             and ($2::bigint is null or id < $2) order by id desc limit $3"
        ))
        .bind(endpoint_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(StoredAttempt::from).collect())
    }
}
