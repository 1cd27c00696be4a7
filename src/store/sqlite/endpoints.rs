//! Webhook endpoints on SQLite: the `EndpointStore` half of [`SqliteStore`]. SQLite's writers take
//! turns, so the bound on endpoints is one insert that counts in its own statement.

use serde_json::Value;

use super::*;
use crate::domain::webhook_endpoint::{EndpointChange, EndpointPosition, Redelivery};
use crate::store::endpoints::{
    ATTEMPT_COLUMNS, AttemptRow, DISABLED_BY_CALLER, ENDPOINT_COLUMNS, QUEUE_TEST_DELIVERY,
    ROTATE_SECRET, UPDATE_ENDPOINT,
};
use crate::store::{EndpointStore, NewStoredEndpoint, StoredAttempt, StoredEndpoint};

type EndpointRow = crate::store::endpoints::EndpointRow<Hyphenated, Json<Vec<String>>>;

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
           and (e.event_types is null \
                or exists (select 1 from json_each(e.event_types) where value = ev.type))  \
           and {cond} \
         order by ev.seq limit $5"
    )
}

#[async_trait]
impl EndpointStore for SqliteStore {
    async fn create_endpoint(
        &self,
        endpoint: &NewStoredEndpoint,
        max: u32,
    ) -> Result<Option<StoredEndpoint>, StoreError> {
        let row: Option<EndpointRow> = sqlx::query_as(&format!(
            "insert into webhook_endpoints (id, organization_id, workspace_id, url, event_types, \
             description, secret, created_at, updated_at) \
             select $1, $2, $3, $4, $5, $6, $7, $8, $8 \
             where (select count(*) from webhook_endpoints where organization_id = $2) < $9 \
             returning {ENDPOINT_COLUMNS}"
        ))
        .bind(endpoint.id.hyphenated())
        .bind(endpoint.organization_id.hyphenated())
        .bind(endpoint.workspace_id.map(|w| w.hyphenated()))
        .bind(&endpoint.url)
        .bind(endpoint.event_types.as_ref().map(Json))
        .bind(&endpoint.description)
        .bind(&endpoint.sealed_secret)
        .bind(endpoint.created_at)
        .bind(i64::from(max))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(StoredEndpoint::from))
    }

    async fn list_endpoints(
        &self,
        organization_id: Uuid,
        after: Option<EndpointPosition>,
        limit: i64,
    ) -> Result<Vec<StoredEndpoint>, StoreError> {
        let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
            "select {ENDPOINT_COLUMNS} from webhook_endpoints where organization_id = $1 \
             and ($2 is null or (created_at, id) > ($2, $3)) \
             order by created_at, id limit $4"
        ))
        .bind(organization_id.hyphenated())
        .bind(after.map(|p| p.created_at))
        .bind(after.map(|p| p.id.hyphenated()))
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
        .bind(id.hyphenated())
        .bind(organization_id.hyphenated())
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
                .bind(id.hyphenated())
                .bind(organization_id.hyphenated())
                .bind(&change.url)
                .bind(change.event_types.is_some())
                .bind(change.event_types.clone().flatten().map(Json))
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
        let done =
            sqlx::query("delete from webhook_endpoints where id = $1 and organization_id = $2")
                .bind(id.hyphenated())
                .bind(organization_id.hyphenated())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
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
                .bind(id.hyphenated())
                .bind(organization_id.hyphenated())
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
            .bind(id.hyphenated())
            .bind(organization_id.hyphenated())
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
        let query = sqlx::query(&sql)
            .bind(id.hyphenated())
            .bind(organization_id.hyphenated())
            .bind(now);
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
             and ($2 is null or id < $2) order by id desc limit $3"
        ))
        .bind(endpoint_id.hyphenated())
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(StoredAttempt::from).collect())
    }
}
