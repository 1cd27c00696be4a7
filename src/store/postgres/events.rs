//! Events on Postgres: the `EventStore` half of [`PostgresStore`]. The trigger of the migration
//! `post_events` writes the post events, `apply_connection` the account events; this reads both
//! in the order their transactions committed, as the changes feed reads records (see `changes`
//! in `mod.rs`): the two tables share the `seq` counter and the `(change_xid, seq)` order.

use super::*;
use crate::domain::event_feed::{EventFilter, EventPosition};
use crate::store::events::{
    ACCOUNT_EVENT_BYTES, ACCOUNT_EVENT_COLUMNS, AccountEventRow, PURGE_ACCOUNT_EVENTS,
};
use crate::store::{EventSize, EventStore, FeedEvent, StoredAccountEvent, StoredEvent};

type EventRow = rows::EventRow<Uuid, Vec<String>>;

/// Adds one table's half of the feed query: its events of the organization matching `filter`,
/// after `after`, below the oldest transaction still running.
fn push_half(
    query: &mut QueryBuilder<'_, Postgres>,
    table: &str,
    bytes: &str,
    organization_id: Uuid,
    filter: &EventFilter,
    after: Option<EventPosition>,
) {
    query.push(format!(
        "select change_xid as change, seq, {bytes}::bigint as bytes from {table} \
         where organization_id = "
    ));
    query.push_bind(organization_id);
    // Every transaction below the oldest one still running has ended: no event can commit
    // behind a cursor handed out from this page.
    query.push(" and change_xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
    if !filter.types.is_empty() {
        let types: Vec<&str> = filter.types.clone();
        query.push(" and type = any(").push_bind(types).push(")");
    }
    if let Some(workspace_id) = filter.workspace_id {
        query.push(" and workspace_id = ").push_bind(workspace_id);
    }
    if let Some(position) = after {
        query
            .push(" and (change_xid, seq) > (")
            .push_bind(position.change)
            .push(", ")
            .push_bind(position.seq)
            .push(")");
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn list_event_sizes(
        &self,
        organization_id: Uuid,
        filter: &EventFilter,
        after: Option<EventPosition>,
        limit: i64,
    ) -> Result<Vec<EventSize>, StoreError> {
        // Each half is limited on its own (through its own index), then merged.
        //
        // The limits are written into the statement, not bound: with `limit $n` the generic
        // plan is costed for an unknown share of the organization's events, and on a table of
        // years Postgres then planned every execution anew (0.13-0.16 ms of planning per page
        // at 12,000,000 events, against 0.01 ms for the cached plan on a small table;
        // docs/benchmark.md, "Growth"). With the number known the cached plan is taken on any
        // table, and it is the plan every call wants: the feed index walked from the cursor.
        // The limit is a checked number (1 to the feed's maximum), so one statement per limit
        // a client uses.
        let mut query = QueryBuilder::<Postgres>::new("select change, seq, bytes from ((");
        push_half(
            &mut query,
            "social_post_events",
            RECORD_BYTES,
            organization_id,
            filter,
            after,
        );
        query.push(format!(" order by change_xid, seq limit {limit}"));
        query.push(") union all (");
        push_half(
            &mut query,
            "account_events",
            ACCOUNT_EVENT_BYTES,
            organization_id,
            filter,
            after,
        );
        query.push(format!(" order by change_xid, seq limit {limit}"));
        query.push(format!(")) as feed order by change, seq limit {limit}"));
        let rows: Vec<rows::EventSizeRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(EventSize::from).collect())
    }

    async fn find_events(
        &self,
        organization_id: Uuid,
        seqs: &[i64],
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "select {EVENT_COLUMNS}, change_xid as change, {TRACKING_COLUMNS} \
             from social_post_events where organization_id = $1 and seq = any($2) \
             order by change_xid, seq"
        ))
        .bind(organization_id)
        .bind(seqs)
        .fetch_all(&self.pool)
        .await?;
        let accounts: Vec<AccountEventRow<Uuid>> = sqlx::query_as(&format!(
            "select change_xid as change, {ACCOUNT_EVENT_COLUMNS} from account_events \
             where organization_id = $1 and seq = any($2)"
        ))
        .bind(organization_id)
        .bind(seqs)
        .fetch_all(&self.pool)
        .await?;
        let mut events: Vec<FeedEvent> = rows
            .into_iter()
            .map(|row| StoredEvent::try_from(row).map(FeedEvent::Post))
            .collect::<Result<_, _>>()?;
        events.extend(
            accounts
                .into_iter()
                .map(|row| FeedEvent::Account(StoredAccountEvent::from(row))),
        );
        events.sort_by_key(|event| {
            let position = event.position();
            (position.change, position.seq)
        });
        Ok(events)
    }

    async fn purge_events(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(crate::store::events::PURGE_EVENTS)
            .bind(before)
            .bind(limit)
            .execute(&self.pool)
            .await?;
        let accounts = sqlx::query(PURGE_ACCOUNT_EVENTS)
            .bind(before)
            .bind(limit)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected().max(accounts.rows_affected()))
    }
}
