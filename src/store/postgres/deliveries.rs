//! Webhook deliveries on Postgres: the `DeliveryStore` half of [`PostgresStore`]. Any number of
//! processes claim from one queue: `for update skip locked` hands each due row to one of them,
//! and the lease (`lease_until`, `lease_token`) keeps it theirs after the claim's commit.

use super::*;
use crate::domain::delivery_policy::EndpointChange;
use crate::store::deliveries::{
    BACKLOG, CLEAR_FAILING, DISABLE_ENDPOINT, MARK_FAILING, endpoint_updates, next_columns,
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

/// Logs a batch of attempts, one array per column, in one statement: those whose delivery is
/// still there (the log has no foreign key on Postgres, see the migration
/// `webhook_deliveries_lean`; a delivery deleted with its endpoint meanwhile keeps no log).
const INSERT_ATTEMPTS: &str = "insert into webhook_attempts \
     (delivery_id, endpoint_id, event_id, event_type, attempt, started_at, duration_ms, \
      http_status, error, response_excerpt) \
     select u.* from unnest($1::int8[], $2::uuid[], $3::text[], $4::text[], $5::int4[], \
         $6::timestamptz[], $7::int4[], $8::int4[], $9::text[], $10::text[]) \
         as u(delivery_id, endpoint_id, event_id, event_type, attempt, started_at, duration_ms, \
              http_status, error, response_excerpt) \
     where exists (select 1 from webhook_deliveries d where d.id = u.delivery_id)";

/// The purge on Postgres: `PURGE_DELIVERIES` with the attempts of what it deletes (no cascade
/// here, see `INSERT_ATTEMPTS`), and at most `$2` pending deliveries queued before `$1` whose
/// endpoint is gone (a create committing beside the endpoint's deletion may have queued one:
/// no claim ever reaches it). How many deliveries it deleted.
const PURGE: &str = "with finished as ( \
         delete from webhook_deliveries where id in \
             (select id from webhook_deliveries where state <> 'pending' and finished_at < $1 \
              order by finished_at limit $2) \
         returning id), \
     orphans as ( \
         delete from webhook_deliveries where id in \
             (select d.id from webhook_deliveries d where d.state = 'pending' \
                and d.created_at < $1 \
                and not exists (select 1 from webhook_endpoints e where e.id = d.endpoint_id) \
              limit $2) \
         returning id), \
     attempts as ( \
         delete from webhook_attempts a where a.delivery_id in \
             (select id from finished union all select id from orphans)) \
     select (select count(*) from finished) + (select count(*) from orphans)";

/// Applies a batch of attempts' decisions to their deliveries, each only while its attempt's
/// lease holds (as `FINISH_DELIVERY` does for one row on SQLite): the `(id, lease token)` of those
/// it applied to.
const FINISH_DELIVERIES: &str = "update webhook_deliveries d set \
         state = u.state, attempts = u.attempts, next_attempt_at = u.next_attempt_at, \
         last_error = u.reason, finished_at = u.finished_at, lease_until = null, lease_token = null \
     from unnest($1::int8[], $2::uuid[], $3::text[], $4::int4[], $5::timestamptz[], $6::text[], \
         $7::timestamptz[]) as u(id, token, state, attempts, next_attempt_at, reason, finished_at) \
     where d.id = u.id and d.lease_token = u.token and d.state = 'pending' \
     returning d.id, u.token";

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

    async fn finish_deliveries(
        &self,
        attempts: &[FinishedAttempt],
    ) -> Result<Vec<Finished>, StoreError> {
        if attempts.is_empty() {
            return Ok(Vec::new());
        }
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let mut tx = self.pool.begin().await?;
        sqlx::query(INSERT_ATTEMPTS)
            .bind(attempts.iter().map(|a| a.delivery_id).collect::<Vec<_>>())
            .bind(attempts.iter().map(|a| a.endpoint_id).collect::<Vec<_>>())
            .bind(
                attempts
                    .iter()
                    .map(|a| a.event_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.event_type.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(attempts.iter().map(|a| int(a.attempt)).collect::<Vec<_>>())
            .bind(attempts.iter().map(|a| a.started_at).collect::<Vec<_>>())
            .bind(
                attempts
                    .iter()
                    .map(|a| int(a.duration_ms))
                    .collect::<Vec<_>>(),
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.http_status.map(i32::from))
                    .collect::<Vec<_>>(),
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.error.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.response_excerpt.as_deref())
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await?;
        let columns: Vec<_> = attempts.iter().map(next_columns).collect();
        let recorded: Vec<(i64, Uuid)> = sqlx::query_as(FINISH_DELIVERIES)
            .bind(attempts.iter().map(|a| a.delivery_id).collect::<Vec<_>>())
            .bind(attempts.iter().map(|a| a.lease_token).collect::<Vec<_>>())
            .bind(columns.iter().map(|c| c.0).collect::<Vec<_>>())
            .bind(attempts.iter().map(|a| int(a.attempt)).collect::<Vec<_>>())
            .bind(columns.iter().map(|c| c.1).collect::<Vec<_>>())
            .bind(
                attempts
                    .iter()
                    .map(|a| a.reason.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(columns.iter().map(|c| c.2).collect::<Vec<_>>())
            .fetch_all(&mut *tx)
            .await?;
        for attempt in endpoint_updates(attempts) {
            let id = attempt.endpoint_id;
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
        Ok(attempts
            .iter()
            .map(|a| {
                if recorded.contains(&(a.delivery_id, a.lease_token)) {
                    Finished::Recorded
                } else {
                    Finished::LeaseLost
                }
            })
            .collect())
    }

    async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError> {
        let (pending, oldest): (i64, Option<DateTime<Utc>>) =
            sqlx::query_as(BACKLOG).fetch_one(&self.pool).await?;
        Ok(DeliveryBacklog { pending, oldest })
    }

    async fn purge_deliveries(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError> {
        let deleted: i64 = sqlx::query_scalar(PURGE)
            .bind(before)
            .bind(limit)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }
}
