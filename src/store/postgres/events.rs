//! Post events on Postgres: the `EventStore` half of [`PostgresStore`]. The trigger of the
//! migration `post_events` writes them; this reads them in the order their transactions
//! committed, as the changes feed reads records (see `changes` in `mod.rs`).

use super::*;
use crate::domain::event_feed::{EventFilter, EventPosition};
use crate::store::{EventSize, EventStore, StoredEvent};

type EventRow = rows::EventRow<Uuid, Vec<String>>;

#[async_trait]
impl EventStore for PostgresStore {
    async fn list_event_sizes(
        &self,
        organization_id: Uuid,
        filter: &EventFilter,
        after: Option<EventPosition>,
        limit: i64,
    ) -> Result<Vec<EventSize>, StoreError> {
        let mut query = QueryBuilder::<Postgres>::new(format!(
            "select change_xid as change, seq, {RECORD_BYTES} as bytes from social_post_events \
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
        query
            .push(" order by change_xid, seq limit ")
            .push_bind(limit);
        let rows: Vec<rows::EventSizeRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(EventSize::from).collect())
    }

    async fn find_events(
        &self,
        organization_id: Uuid,
        seqs: &[i64],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "select {EVENT_COLUMNS}, change_xid as change, {TRACKING_COLUMNS} \
             from social_post_events where organization_id = $1 and seq = any($2) \
             order by change_xid, seq"
        ))
        .bind(organization_id)
        .bind(seqs)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(StoredEvent::try_from).collect()
    }

    async fn purge_events(&self, before: DateTime<Utc>, limit: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(crate::store::events::PURGE_EVENTS)
            .bind(before)
            .bind(limit)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
