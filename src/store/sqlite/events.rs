//! Post events on SQLite: the `EventStore` half of [`SqliteStore`]. The triggers of the
//! migration `post_events` write them; SQLite's writers take turns, so `seq` is in commit order
//! and every event a reader sees comes before any it does not see yet (`change` is always 0).

use super::*;
use crate::domain::event_feed::{EventFilter, EventPosition};
use crate::store::{EventSize, EventStore, StoredEvent};

type EventRow = rows::EventRow<Hyphenated, Json<Vec<String>>>;

#[async_trait]
impl EventStore for SqliteStore {
    async fn list_event_sizes(
        &self,
        organization_id: Uuid,
        filter: &EventFilter,
        after: Option<EventPosition>,
        limit: i64,
    ) -> Result<Vec<EventSize>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "select 0 as change, seq, {RECORD_BYTES} as bytes from social_post_events \
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
        query.push(" order by seq limit ").push_bind(limit);
        let rows: Vec<rows::EventSizeRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(EventSize::from).collect())
    }

    async fn find_events(
        &self,
        organization_id: Uuid,
        seqs: &[i64],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "select {EVENT_COLUMNS}, 0 as change, {TRACKING_COLUMNS} from social_post_events \
             where organization_id = $1 and seq in (select value from json_each($2)) \
             order by seq"
        ))
        .bind(organization_id.hyphenated())
        .bind(Json(seqs))
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
