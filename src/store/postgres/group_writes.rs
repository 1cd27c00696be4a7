//! The group-committed writes of the post path: the write-ahead inserts and the outcome updates
//! that `batch::Batcher` gathers, written as set-based statements.
//!
//! A batch of one is the plain single-row statement. A larger batch is one `insert ... select`
//! and one `update ... from` over `jsonb_to_recordset` of the whole batch, bound as a single
//! JSON parameter: one statement, one round trip and one commit for the batch however large it
//! is, where a statement per write inside the transaction cost a round trip each (32 in a full
//! batch, each waiting on the one before). Every guarantee of the one-by-one form is kept:
//! - the idempotency claim is the same `on conflict do nothing` on the same unique index (two
//!   rows of one batch with the same claim: the first inserted wins, the second returns no row,
//!   exactly as if it had come a moment later);
//! - the state machine's condition is each row's own list of allowed source states;
//! - rows are written in one order (claims; record ids) so that two batches never wait on each
//!   other in a cycle;
//! - each write gets its own row back (matched by record id), after the commit;
//! - a batch that fails for any reason but an unreachable database is retried one write at a
//!   time, so that a bad write fails alone.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::postgres::{PgConnection, PgExecutor, PgPool};
use sqlx::types::Json;
use uuid::Uuid;

use super::TrackingRow;
use super::held::Held;
use crate::domain::{Outcome, TrackedStatus, Transition};
use crate::store::posts::{results_json, source_names};
use crate::store::rows::TRACKING_COLUMNS;
use crate::store::{NewTracking, StoreError, StoredAnswerJson, TrackingRecord};

/// An outcome to record, owned so that it can wait for its batch.
pub(super) struct OutcomeWrite {
    pub(super) id: Uuid,
    pub(super) status: TrackedStatus,
    pub(super) transition: Transition,
    pub(super) outcome: Outcome,
    pub(super) answer: Option<StoredAnswerJson>,
}

/// The columns a write-ahead record is written with, by either form of the insert.
const INSERT_INTO: &str = "insert into scheduled_social_posts_v2 \
     (id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, schedule_date, \
      extra, tracked_status, idempotency_key, idempotency_claim, request_fingerprint, \
      ayrshare_idempotency_key, created_at, updated_at, timezone)";

static INSERT_TRACKING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{INSERT_INTO} \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $11, $11, $12, $13, $10, $10, \
                 $14) \
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
        .bind(crate::store::now())
        .bind(&record.idempotency_key)
        .bind(&record.request_fingerprint)
        .bind(&record.ayrshare_idempotency_key)
        .bind(&record.timezone)
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
        .bind(crate::store::now())
        .bind(source_names(&write.status, write.transition))
        .bind(write.answer.as_ref().map(|a| Json(a.raw())))
        .fetch_optional(executor)
        .await?;
    row.map(TrackingRecord::try_from).transpose()
}

/// The set-based insert of a batch: `$1` the batch as a JSON array of `InsertRow`, `$2` now.
static INSERT_TRACKINGS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{INSERT_INTO} \
         select r.id, r.organization_id, r.workspace_id, r.api_key_id, r.post, r.platforms, \
                r.media_urls, r.schedule_date, r.extra, 'pending', r.idempotency_key, \
                r.idempotency_key, r.request_fingerprint, r.ayrshare_idempotency_key, $2, $2, \
                r.timezone \
         from jsonb_to_recordset($1) as r(id uuid, organization_id uuid, workspace_id uuid, \
              api_key_id uuid, post text, platforms text[], media_urls text[], \
              schedule_date timestamptz, extra jsonb, idempotency_key text, \
              request_fingerprint text, ayrshare_idempotency_key text, timezone text) \
         order by r.organization_id, r.idempotency_key \
         on conflict (organization_id, idempotency_claim) where idempotency_claim is not null \
         do nothing \
         returning {TRACKING_COLUMNS}"
    )
});

/// The set-based outcome update of a batch whose records are distinct: `$1` the batch as a
/// JSON array of `UpdateRow`, `$2` now. The nullable JSON documents come wrapped in a
/// one-element array (`-> 0` unwraps them), so that an absent one (SQL null: keep the column)
/// stays apart from a JSON `null` (stored as such, as the single-row form does).
static RECORD_OUTCOMES: LazyLock<String> = LazyLock::new(|| {
    let returning = TRACKING_COLUMNS
        .split(',')
        .map(|column| format!("t.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "update scheduled_social_posts_v2 t set \
             tracked_status = u.status, \
             provider_post_id = coalesce(u.provider_post_id, t.provider_post_id), \
             provider_status = coalesce(u.provider_status, t.provider_status), \
             results = u.results, error = u.error -> 0, \
             provider_response = coalesce(u.provider_response -> 0, t.provider_response), \
             stored_answer = coalesce(u.stored_answer -> 0, t.stored_answer), \
             updated_at = $2 \
         from (select * from jsonb_to_recordset($1) as x(id uuid, status text, \
                   provider_post_id text, provider_status text, results jsonb, error jsonb, \
                   provider_response jsonb, stored_answer jsonb, sources text[]) \
               order by x.id) u \
         where t.id = u.id and t.tracked_status = any(u.sources) \
         returning {returning}"
    )
});

/// One write-ahead record of a batch, as `INSERT_TRACKINGS` reads it.
#[derive(Serialize)]
struct InsertRow<'a> {
    id: Uuid,
    organization_id: Uuid,
    workspace_id: Uuid,
    api_key_id: Uuid,
    post: &'a str,
    platforms: &'a [String],
    media_urls: &'a [String],
    schedule_date: Option<DateTime<Utc>>,
    extra: &'a Value,
    idempotency_key: Option<&'a str>,
    request_fingerprint: Option<&'a str>,
    ayrshare_idempotency_key: Option<&'a str>,
    timezone: Option<&'a str>,
}

impl<'a> From<&'a NewTracking> for InsertRow<'a> {
    fn from(record: &'a NewTracking) -> Self {
        InsertRow {
            id: record.id,
            organization_id: record.organization_id,
            workspace_id: record.workspace_id,
            api_key_id: record.api_key_id,
            post: &record.post,
            platforms: &record.platforms,
            media_urls: &record.media_urls,
            schedule_date: record.schedule_date,
            extra: &record.extra,
            idempotency_key: record.idempotency_key.as_deref(),
            request_fingerprint: record.request_fingerprint.as_deref(),
            ayrshare_idempotency_key: record.ayrshare_idempotency_key.as_deref(),
            timezone: record.timezone.as_deref(),
        }
    }
}

/// One outcome of a batch, as `RECORD_OUTCOMES` reads it.
#[derive(Serialize)]
struct UpdateRow<'a> {
    id: Uuid,
    status: &'static str,
    provider_post_id: Option<&'a str>,
    provider_status: Option<&'a str>,
    results: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<[&'a Value; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_response: Option<[&'a Value; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stored_answer: Option<[&'a RawValue; 1]>,
    sources: Vec<String>,
}

impl<'a> From<&'a OutcomeWrite> for UpdateRow<'a> {
    fn from(write: &'a OutcomeWrite) -> Self {
        let outcome = &write.outcome;
        UpdateRow {
            id: write.id,
            status: write.status.as_str(),
            provider_post_id: outcome.provider_post_id.as_deref(),
            provider_status: outcome.provider_status.as_deref(),
            results: results_json(&outcome.results),
            error: outcome.error.as_ref().map(|e| [e]),
            provider_response: outcome.provider_response.as_ref().map(|r| [r]),
            stored_answer: write.answer.as_ref().map(|a| [a.raw()]),
            sources: source_names(&write.status, write.transition),
        }
    }
}

/// One batch of inserts: alone, the single-row statement; together, one set-based statement
/// (atomic by itself: no transaction around it).
pub(super) async fn insert_batch(
    pool: PgPool,
    held: &Held,
    records: Vec<NewTracking>,
) -> Vec<Result<Option<TrackingRecord>, StoreError>> {
    write_batch(
        &pool,
        held,
        &records,
        "inserts",
        insert_one,
        insert_together,
    )
    .await
}

/// `insert_row` on one connection, as `write_batch` takes it.
fn insert_one<'c>(connection: &'c mut PgConnection, record: &'c NewTracking) -> WriteOne<'c> {
    Box::pin(insert_row(connection, record))
}

/// `update_row` on one connection, as `write_batch` takes it.
fn update_one<'c>(connection: &'c mut PgConnection, write: &'c OutcomeWrite) -> WriteOne<'c> {
    Box::pin(update_row(connection, write))
}

/// One write's statement on one connection.
type WriteOne<'c> =
    Pin<Box<dyn Future<Output = Result<Option<TrackingRecord>, StoreError>> + Send + 'c>>;

/// A batch of one by `one`; a larger one by `together`, and if that fails, each write by
/// `one` (see `each_alone`). `one` runs on a connection of `held`.
async fn write_batch<'p, W, One, All, AllFut>(
    pool: &'p PgPool,
    held: &Held,
    writes: &'p [W],
    what: &str,
    one: One,
    together: All,
) -> Vec<Result<Option<TrackingRecord>, StoreError>>
where
    One: for<'c> Fn(&'c mut PgConnection, &'c W) -> WriteOne<'c>,
    All: FnOnce(&'p PgPool, &'p [W]) -> AllFut,
    AllFut: Future<Output = Result<Vec<Option<TrackingRecord>>, StoreError>>,
{
    if let [write] = writes {
        return vec![on_held(held, write, &one).await];
    }
    match together(pool, writes).await {
        Ok(rows) => rows.into_iter().map(Ok).collect(),
        Err(error) => {
            tracing::warn!(%error, writes = writes.len(), "a batch of {what} failed");
            each_alone(held, writes, error, one).await
        }
    }
}

/// `write` by `one` on a connection lent by `held`, kept there afterwards if it succeeded.
async fn on_held<W, One>(
    held: &Held,
    write: &W,
    one: &One,
) -> Result<Option<TrackingRecord>, StoreError>
where
    One: for<'c> Fn(&'c mut PgConnection, &'c W) -> WriteOne<'c>,
{
    let mut lent = held.lend().await?;
    let answer = one(&mut lent.connection, write).await;
    held.finished(lent, answer.is_ok());
    answer
}

/// The batch's records in one statement; each write's row, or `None` where its claim was taken.
async fn insert_together(
    pool: &PgPool,
    records: &[NewTracking],
) -> Result<Vec<Option<TrackingRecord>>, StoreError> {
    let batch: Vec<InsertRow<'_>> = records.iter().map(InsertRow::from).collect();
    let rows: Vec<TrackingRow> = sqlx::query_as(&INSERT_TRACKINGS)
        .bind(Json(&batch))
        .bind(crate::store::now())
        .fetch_all(pool)
        .await?;
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    by_id(&ids, rows)
}

/// One batch of outcome updates: alone, the single-row statement; together, one set-based
/// statement per round of distinct records (two outcomes for one record in one batch are two
/// rounds, in the order they came, the second seeing the first), all in one transaction.
pub(super) async fn update_batch(
    pool: PgPool,
    held: &Held,
    writes: Vec<OutcomeWrite>,
) -> Vec<Result<Option<TrackingRecord>, StoreError>> {
    write_batch(
        &pool,
        held,
        &writes,
        "outcome updates",
        update_one,
        update_together,
    )
    .await
}

async fn update_together(
    pool: &PgPool,
    writes: &[OutcomeWrite],
) -> Result<Vec<Option<TrackingRecord>>, StoreError> {
    let rounds = rounds_of_distinct(writes.iter().map(|w| w.id));
    let mut answers: Vec<Option<TrackingRecord>> = (0..writes.len()).map(|_| None).collect();
    let mut tx = pool.begin().await?;
    for round in &rounds {
        let batch: Vec<UpdateRow<'_>> =
            round.iter().map(|&i| UpdateRow::from(&writes[i])).collect();
        let rows: Vec<TrackingRow> = sqlx::query_as(&RECORD_OUTCOMES)
            .bind(Json(&batch))
            .bind(crate::store::now())
            .fetch_all(&mut *tx)
            .await?;
        let ids: Vec<Uuid> = round.iter().map(|&i| writes[i].id).collect();
        for (&i, row) in round.iter().zip(by_id(&ids, rows)?) {
            answers[i] = row;
        }
    }
    tx.commit().await?;
    Ok(answers)
}

/// The positions of `ids` split into rounds in which no id repeats: an id's n-th occurrence goes
/// to round n, so each round keeps the order of arrival and a record's writes keep theirs.
fn rounds_of_distinct(ids: impl Iterator<Item = Uuid>) -> Vec<Vec<usize>> {
    let mut seen: HashMap<Uuid, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (position, id) in ids.enumerate() {
        let round = seen.entry(id).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(position);
        *round += 1;
    }
    rounds
}

/// Each of `ids`' own row among those a statement returned (distinct ids), `None` where none.
fn by_id(ids: &[Uuid], rows: Vec<TrackingRow>) -> Result<Vec<Option<TrackingRecord>>, StoreError> {
    let mut found: HashMap<Uuid, TrackingRecord> = HashMap::with_capacity(rows.len());
    for row in rows {
        let record = TrackingRecord::try_from(row)?;
        found.insert(record.id, record);
    }
    Ok(ids.iter().map(|id| found.remove(id)).collect())
}

/// After a failed batch (rolled back as a whole): when the database is unreachable each write
/// fails with that; otherwise one write may have spoilt the batch (a constraint, say), so each
/// is tried alone and gets its own answer, as it would have without batching.
async fn each_alone<W, One>(
    held: &Held,
    writes: &[W],
    error: StoreError,
    one: One,
) -> Vec<Result<Option<TrackingRecord>, StoreError>>
where
    One: for<'c> Fn(&'c mut PgConnection, &'c W) -> WriteOne<'c>,
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
        answers.push(on_held(held, write, &one).await);
    }
    answers
}

/// The answer to each write of a batch that did not commit within `deadline`.
pub(super) fn timed_out(
    deadline: std::time::Duration,
    writes: usize,
) -> Vec<Result<Option<TrackingRecord>, StoreError>> {
    (0..writes)
        .map(|_| {
            Err(StoreError::Unavailable(format!(
                "the database did not commit the batch within {} s",
                deadline.as_secs_f64()
            )))
        })
        .collect()
}
