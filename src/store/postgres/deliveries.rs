//! Webhook deliveries on Postgres: the `DeliveryStore` half of [`PostgresStore`]. Any number of
//! processes claim from one queue: `for update skip locked` hands each due row to one of them,
//! and the lease (`lease_until`, `lease_token`) keeps it theirs after the claim's commit.

use super::*;
use crate::domain::delivery_policy::EndpointChange;
use crate::store::deliveries::{
    BACKLOG, CLEAR_FAILING, DISABLE_ENDPOINT, FINISH_DELIVERY, INSERT_ATTEMPT, MARK_FAILING,
    PURGE_DELIVERIES, next_columns,
};
use crate::store::{
    ClaimQuery, ClaimedDelivery, DeliveryBacklog, DeliveryStore, Finished, FinishedAttempt,
};

/// Each enabled endpoint's due deliveries, oldest due first, at most its share (the
/// per-endpoint cap less what the claiming process has in flight there), then the oldest due of
/// all those up to the limit. The walk per endpoint runs on the index of the migration
/// `webhook_deliveries_claim`; rows another worker is claiming right now are skipped, not waited
/// for.
const CLAIM: &str = "with busy (endpoint_id, n) as ( \
         select * from unnest($5::uuid[], $6::int4[])), \
     claimed as ( \
         select p.id from webhook_endpoints e \
         left join busy b on b.endpoint_id = e.id \
         cross join lateral ( \
             select d.id, d.next_attempt_at from webhook_deliveries d \
             where d.endpoint_id = e.id and d.state = 'pending' and d.next_attempt_at <= $1 \
               and (d.lease_until is null or d.lease_until <= $1) \
             order by d.next_attempt_at, d.id \
             limit greatest($4 - coalesce(b.n, 0), 0) \
             for update of d skip locked) p \
         where not e.disabled \
         order by p.next_attempt_at, p.id \
         limit $3) \
     update webhook_deliveries d set lease_until = $2, lease_token = $7 \
     from claimed c, webhook_endpoints e \
     where d.id = c.id and e.id = d.endpoint_id \
     returning d.id, d.endpoint_id, e.organization_id, d.event_id, d.event_type, d.event_seq, \
         d.payload::text as payload, d.attempts, d.lease_token, e.url, e.secret, \
         e.previous_secret, e.previous_secret_until, e.failing_since";

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    endpoint_id: Uuid,
    organization_id: Uuid,
    event_id: String,
    event_type: String,
    event_seq: Option<i64>,
    payload: Option<String>,
    attempts: i32,
    lease_token: Uuid,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<DateTime<Utc>>,
    failing_since: Option<DateTime<Utc>>,
}

impl From<ClaimedRow> for ClaimedDelivery {
    fn from(row: ClaimedRow) -> Self {
        ClaimedDelivery {
            id: row.id,
            endpoint_id: row.endpoint_id,
            organization_id: row.organization_id,
            event_id: row.event_id,
            event_type: row.event_type,
            event_seq: row.event_seq,
            payload: row.payload,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            lease_token: row.lease_token,
            url: row.url,
            secret: row.secret,
            previous_secret: row.previous_secret,
            previous_secret_until: row.previous_secret_until,
            failing_since: row.failing_since,
        }
    }
}

#[async_trait]
impl DeliveryStore for PostgresStore {
    async fn claim_deliveries(
        &self,
        query: &ClaimQuery,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let (ids, counts): (Vec<Uuid>, Vec<i32>) = query
            .busy
            .iter()
            .map(|(id, n)| (*id, i32::try_from(*n).unwrap_or(i32::MAX)))
            .unzip();
        let rows: Vec<ClaimedRow> = sqlx::query_as(CLAIM)
            .bind(query.now)
            .bind(query.lease_until)
            .bind(i64::from(query.limit))
            .bind(i64::from(query.per_endpoint))
            .bind(ids)
            .bind(counts)
            .bind(query.lease_token)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(ClaimedDelivery::from).collect())
    }

    async fn finish_delivery(&self, attempt: &FinishedAttempt) -> Result<Finished, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(INSERT_ATTEMPT)
            .bind(attempt.delivery_id)
            .bind(attempt.endpoint_id)
            .bind(&attempt.event_id)
            .bind(&attempt.event_type)
            .bind(i32::try_from(attempt.attempt).unwrap_or(i32::MAX))
            .bind(attempt.started_at)
            .bind(i32::try_from(attempt.duration_ms).unwrap_or(i32::MAX))
            .bind(attempt.http_status.map(i32::from))
            .bind(&attempt.error)
            .bind(&attempt.response_excerpt)
            .execute(&mut *tx)
            .await?;
        let (state, next_attempt_at, finished_at) = next_columns(attempt);
        let done = sqlx::query(FINISH_DELIVERY)
            .bind(attempt.delivery_id)
            .bind(attempt.lease_token)
            .bind(state)
            .bind(i32::try_from(attempt.attempt).unwrap_or(i32::MAX))
            .bind(next_attempt_at)
            .bind(&attempt.reason)
            .bind(finished_at)
            .execute(&mut *tx)
            .await?;
        let id = attempt.endpoint_id;
        let update = match &attempt.endpoint {
            EndpointChange::Unchanged => None,
            EndpointChange::Succeeded => Some(sqlx::query(CLEAR_FAILING).bind(id)),
            EndpointChange::Failing { since } => {
                Some(sqlx::query(MARK_FAILING).bind(id).bind(*since))
            }
            EndpointChange::Disable { since, reason } => Some(
                sqlx::query(DISABLE_ENDPOINT)
                    .bind(id)
                    .bind(*since)
                    .bind(reason.as_str())
                    .bind(attempt.finished_at),
            ),
        };
        if let Some(update) = update {
            update.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(if done.rows_affected() == 1 {
            Finished::Recorded
        } else {
            Finished::LeaseLost
        })
    }

    async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError> {
        let (pending, oldest): (i64, Option<DateTime<Utc>>) =
            sqlx::query_as(BACKLOG).fetch_one(&self.pool).await?;
        Ok(DeliveryBacklog { pending, oldest })
    }

    async fn purge_deliveries(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(PURGE_DELIVERIES)
            .bind(before)
            .bind(limit)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
