//! Webhook deliveries on SQLite: the `DeliveryStore` half of [`SqliteStore`]. SQLite serves one
//! process, so the lease guards against that process's own restart; the claim is one statement
//! (a writer at a time), capped per endpoint with a window over the due rows.

use super::*;
use crate::domain::delivery_policy::EndpointChange;
use crate::store::deliveries::{
    BACKLOG, CLEAR_FAILING, DISABLE_ENDPOINT, MARK_FAILING, PURGE_DELIVERIES, endpoint_updates,
    next_columns,
};
use crate::store::{
    ClaimQuery, ClaimedDelivery, DeliveryBacklog, DeliveryStore, Finished, FinishedAttempt,
};

/// Leases the due deliveries of enabled endpoints, oldest due first, each endpoint's at most its
/// share (the cap less what is in flight there, `$5` a JSON list of `[endpoint, count]`).
const CLAIM: &str = "update webhook_deliveries set lease_until = $2, lease_token = $6 \
     where id in ( \
         select id from ( \
             select d.id, d.next_attempt_at, \
                 row_number() over ( \
                     partition by d.endpoint_id order by d.next_attempt_at, d.id) as rank, \
                 coalesce((select json_extract(b.value, '$[1]') from json_each($5) b \
                           where json_extract(b.value, '$[0]') = d.endpoint_id), 0) as busy \
             from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id \
             where d.state = 'pending' and e.disabled = 0 and d.next_attempt_at <= $1 \
               and (d.lease_until is null or d.lease_until <= $1)) \
         where rank <= $4 - busy \
         order by next_attempt_at, id limit $3)";

/// What was just leased with the token `$1`.
const CLAIMED: &str = "select d.id, d.endpoint_id, e.organization_id, d.event_id, d.event_type, \
         d.event_seq, d.payload, d.attempts, d.lease_token, e.url, e.secret, e.previous_secret, \
         e.previous_secret_until, e.failing_since \
     from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id \
     where d.lease_token = $1 order by d.next_attempt_at, d.id";

/// Logs one attempt.
const INSERT_ATTEMPT: &str = "insert into webhook_attempts \
     (delivery_id, endpoint_id, event_id, event_type, attempt, started_at, duration_ms, \
      http_status, error, response_excerpt) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Applies an attempt's decision to its delivery, only while the caller's lease holds (one row at
/// a time; Postgres does a batch at once): `$1` id, `$2` token, `$3` state, `$4` attempts, `$5`
/// next attempt, `$6` last error, `$7` finished at.
const FINISH_DELIVERY: &str = "update webhook_deliveries set \
         state = $3, attempts = $4, next_attempt_at = $5, last_error = $6, finished_at = $7, \
         lease_until = null, lease_token = null \
     where id = $1 and lease_token = $2 and state = 'pending'";

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    endpoint_id: Hyphenated,
    organization_id: Hyphenated,
    event_id: String,
    event_type: String,
    event_seq: Option<i64>,
    payload: Option<String>,
    attempts: i64,
    lease_token: Hyphenated,
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
            endpoint_id: row.endpoint_id.into_uuid(),
            organization_id: row.organization_id.into_uuid(),
            event_id: row.event_id,
            event_type: row.event_type,
            event_seq: row.event_seq,
            payload: row.payload,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            lease_token: row.lease_token.into_uuid(),
            url: row.url,
            secret: row.secret,
            previous_secret: row.previous_secret,
            previous_secret_until: row.previous_secret_until,
            failing_since: row.failing_since,
        }
    }
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn claim_deliveries(
        &self,
        query: &ClaimQuery,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let busy: Vec<(String, u32)> = query
            .busy
            .iter()
            .map(|(id, n)| (id.hyphenated().to_string(), *n))
            .collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query(CLAIM)
            .bind(query.now)
            .bind(query.lease_until)
            .bind(i64::from(query.limit))
            .bind(i64::from(query.per_endpoint))
            .bind(Json(busy))
            .bind(query.lease_token.hyphenated())
            .execute(&mut *tx)
            .await?;
        let rows: Vec<ClaimedRow> = sqlx::query_as(CLAIMED)
            .bind(query.lease_token.hyphenated())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(ClaimedDelivery::from).collect())
    }

    async fn finish_deliveries(
        &self,
        attempts: &[FinishedAttempt],
    ) -> Result<Vec<Finished>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut found = Vec::with_capacity(attempts.len());
        for attempt in attempts {
            sqlx::query(INSERT_ATTEMPT)
                .bind(attempt.delivery_id)
                .bind(attempt.endpoint_id.hyphenated())
                .bind(&attempt.event_id)
                .bind(&attempt.event_type)
                .bind(i64::from(attempt.attempt))
                .bind(attempt.started_at)
                .bind(i64::from(attempt.duration_ms))
                .bind(attempt.http_status.map(i64::from))
                .bind(&attempt.error)
                .bind(&attempt.response_excerpt)
                .execute(&mut *tx)
                .await?;
            let (state, next_attempt_at, finished_at) = next_columns(attempt);
            let done = sqlx::query(FINISH_DELIVERY)
                .bind(attempt.delivery_id)
                .bind(attempt.lease_token.hyphenated())
                .bind(state)
                .bind(i64::from(attempt.attempt))
                .bind(next_attempt_at)
                .bind(&attempt.reason)
                .bind(finished_at)
                .execute(&mut *tx)
                .await?;
            found.push(if done.rows_affected() == 1 {
                Finished::Recorded
            } else {
                Finished::LeaseLost
            });
        }
        for attempt in endpoint_updates(attempts) {
            let id = attempt.endpoint_id.hyphenated();
            let update = match &attempt.endpoint {
                EndpointChange::Unchanged => continue,
                EndpointChange::Succeeded => sqlx::query(CLEAR_FAILING).bind(id),
                EndpointChange::Failing { since } => {
                    sqlx::query(MARK_FAILING).bind(id).bind(*since)
                }
                EndpointChange::Disable { since, reason } => sqlx::query(DISABLE_ENDPOINT)
                    .bind(id)
                    .bind(*since)
                    .bind(reason.as_str())
                    .bind(attempt.finished_at),
            };
            update.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(found)
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
