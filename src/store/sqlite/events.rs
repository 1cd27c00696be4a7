//! Events on SQLite: the `EventStore` half of [`SqliteStore`]. The triggers of the migration
//! `post_events` write the post events, `apply_connection` the account events, both numbered
//! by one counter (see the migration `connections`); SQLite's writers take turns, so `seq` is in
//! commit order and every event a reader sees comes before any it does not see yet (`change` is
//! always 0).

use super::*;
use crate::domain::event_feed::{EventFilter, EventPosition};
use crate::store::events::{
    ACCOUNT_EVENT_BYTES, ACCOUNT_EVENT_COLUMNS, AccountEventRow, PURGE_ACCOUNT_EVENTS,
};
use crate::store::{EventSize, EventStore, FeedEvent, StoredAccountEvent, StoredEvent};

type EventRow = rows::EventRow<Hyphenated, Json<Vec<String>>>;

fn push_half(
    query: &mut QueryBuilder<'_, Sqlite>,
    table: &str,
    bytes: &str,
    organization_id: Uuid,
    filter: &EventFilter,
    after: Option<EventPosition>,
    limit: i64,
) {
    query.push(format!(
        "select * from (select 0 as change, seq, {bytes} as bytes from {table} \
         where organization_id = "
    ));
    query.push_bind(organization_id.hyphenated());
    if !filter.types.is_empty() {
        query.push(" and type in (");
        let mut types = query.separated(", ");
        for kind in &filter.types {
            types.push_bind(*kind);
        }
        query.push(")");
    }
    if let Some(workspace_id) = filter.workspace_id {
        query
            .push(" and workspace_id = ")
            .push_bind(workspace_id.hyphenated());
    }
    if let Some(position) = after {
        query.push(" and seq > ").push_bind(position.seq);
    }
    query
        .push(" order by seq limit ")
        .push_bind(limit)
        .push(")");
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn list_event_sizes(
        &self,
        organization_id: Uuid,
        filter: &EventFilter,
        after: Option<EventPosition>,
        limit: i64,
    ) -> Result<Vec<EventSize>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new("select change, seq, bytes from (");
        push_half(
            &mut query,
            "social_post_events",
            RECORD_BYTES,
            organization_id,
            filter,
            after,
            limit,
        );
        query.push(" union all ");
        push_half(
            &mut query,
            "account_events",
            ACCOUNT_EVENT_BYTES,
            organization_id,
            filter,
            after,
            limit,
        );
        query.push(") order by seq limit ").push_bind(limit);
        let rows: Vec<rows::EventSizeRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(EventSize::from).collect())
    }

    async fn find_events(
        &self,
        organization_id: Uuid,
        seqs: &[i64],
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "select {EVENT_COLUMNS}, 0 as change, {TRACKING_COLUMNS} from social_post_events \
             where organization_id = $1 and seq in (select value from json_each($2)) \
             order by seq"
        ))
        .bind(organization_id.hyphenated())
        .bind(Json(seqs))
        .fetch_all(&self.pool)
        .await?;
        let accounts: Vec<AccountEventRow<Hyphenated>> = sqlx::query_as(&format!(
            "select 0 as change, {ACCOUNT_EVENT_COLUMNS} from account_events \
             where organization_id = $1 and seq in (select value from json_each($2))"
        ))
        .bind(organization_id.hyphenated())
        .bind(Json(seqs))
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
        events.sort_by_key(|event| event.position().seq);
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
