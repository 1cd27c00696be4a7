//! Connections on Postgres: the `ConnectionStore` half of [`PostgresStore`]. A change locks its
//! row (`for update`), so that concurrent changes of one connection take turns and each emits
//! at most the one event its own transition calls for.

use super::*;
use crate::domain::Platform;
use crate::domain::connection::{ConnectionChange, ConnectionPosition, Observation, apply};
use crate::store::connections::{
    CONNECTION_COLUMNS, ConnectionApplied, ConnectionFilter, ConnectionRow, ConnectionStore,
    MAX_PROFILE_OWNERS, ProfileOwner, StoredConnection, UPDATE_CONNECTION, event_reason,
    new_event_id,
};

type Row = ConnectionRow<Uuid>;

async fn locked(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    workspace_id: Uuid,
    platform: Platform,
) -> Result<Option<StoredConnection>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "select {CONNECTION_COLUMNS} from social_connections \
         where workspace_id = $1 and platform = $2 for update"
    ))
    .bind(workspace_id)
    .bind(platform.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(StoredConnection::try_from).transpose()
}

#[async_trait]
impl ConnectionStore for PostgresStore {
    async fn apply_connection(
        &self,
        change: &ConnectionChange,
    ) -> Result<ConnectionApplied, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut current = locked(&mut tx, change.workspace_id, change.platform).await?;
        if current.is_none() {
            if change.observation == Observation::Disconnected {
                // Never stored, and not linked: nothing to say.
                return Ok(ConnectionApplied {
                    connection: None,
                    event: None,
                });
            }
            // Concurrent first links insert one row; both then lock it and take turns.
            sqlx::query(
                "insert into social_connections \
                 (id, organization_id, workspace_id, platform, connected, updated_at) \
                 values ($1, $2, $3, $4, false, $5) on conflict (workspace_id, platform) do nothing",
            )
            .bind(Uuid::new_v4())
            .bind(change.organization_id)
            .bind(change.workspace_id)
            .bind(change.platform.as_str())
            .bind(change.at)
            .execute(&mut *tx)
            .await?;
            current = locked(&mut tx, change.workspace_id, change.platform).await?;
        }
        let current = current
            .ok_or_else(|| StoreError::Corrupt("a connection just inserted is gone".into()))?;
        let applied = apply(Some(&current.state), change);
        if !applied.changed {
            tx.commit().await?;
            return Ok(ConnectionApplied {
                connection: Some(current),
                event: None,
            });
        }
        let state = &applied.state;
        let account = &state.account;
        sqlx::query(UPDATE_CONNECTION)
            .bind(current.id)
            .bind(state.connected)
            .bind(&account.account_id)
            .bind(&account.username)
            .bind(&account.display_name)
            .bind(&account.profile_url)
            .bind(&account.user_image)
            .bind(state.linked_at)
            .bind(state.unlinked_at)
            .bind(state.reason.map(|r| r.as_str()))
            .bind(change.at)
            .execute(&mut *tx)
            .await?;
        let mut event = None;
        if let Some(kind) = applied.event {
            let event_id = new_event_id();
            sqlx::query(
                "insert into account_events (event_id, type, organization_id, workspace_id, \
                 connection_id, platform, connected, reason, account_username, account_name, \
                 profile_url, user_image, linked_at, unlinked_at, updated_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&event_id)
            .bind(kind)
            .bind(current.organization_id)
            .bind(current.workspace_id)
            .bind(current.id)
            .bind(change.platform.as_str())
            .bind(state.connected)
            .bind(event_reason(&applied, change))
            .bind(&account.username)
            .bind(&account.display_name)
            .bind(&account.profile_url)
            .bind(&account.user_image)
            .bind(state.linked_at)
            .bind(state.unlinked_at)
            .bind(change.at)
            .execute(&mut *tx)
            .await?;
            event = Some((event_id, kind));
        }
        tx.commit().await?;
        Ok(ConnectionApplied {
            connection: Some(StoredConnection {
                state: applied.state,
                updated_at: change.at,
                ..current
            }),
            event,
        })
    }

    async fn find_connection(
        &self,
        workspace_id: Uuid,
        platform: Platform,
    ) -> Result<Option<StoredConnection>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "select {CONNECTION_COLUMNS} from social_connections \
             where workspace_id = $1 and platform = $2"
        ))
        .bind(workspace_id)
        .bind(platform.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(StoredConnection::try_from).transpose()
    }

    async fn list_connections(
        &self,
        organization_id: Uuid,
        filter: ConnectionFilter,
        after: Option<ConnectionPosition>,
        limit: i64,
    ) -> Result<Vec<StoredConnection>, StoreError> {
        let mut query = QueryBuilder::<Postgres>::new(format!(
            "select {CONNECTION_COLUMNS} from social_connections where connected \
             and organization_id = "
        ));
        query.push_bind(organization_id);
        if let Some(workspace_id) = filter.workspace_id {
            query.push(" and workspace_id = ").push_bind(workspace_id);
        }
        if let Some(platform) = filter.platform {
            query.push(" and platform = ").push_bind(platform.as_str());
        }
        if let Some(after) = after {
            query
                .push(" and (linked_at, id) > (")
                .push_bind(after.linked_at)
                .push(", ")
                .push_bind(after.id)
                .push(")");
        }
        query
            .push(" order by linked_at, id limit ")
            .push_bind(limit);
        let rows: Vec<Row> = query.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(StoredConnection::try_from).collect()
    }

    async fn remember_ref_id(
        &self,
        organization_id: Uuid,
        workspace_id: Uuid,
        ref_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into workspace_ayrshare_refs (workspace_id, organization_id, ref_id, learned_at) \
             values ($1, $2, $3, $4) on conflict (workspace_id) do update \
             set ref_id = excluded.ref_id, learned_at = excluded.learned_at \
             where workspace_ayrshare_refs.ref_id <> excluded.ref_id",
        )
        .bind(workspace_id)
        .bind(organization_id)
        .bind(ref_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_profile_owners(&self, ref_id: &str) -> Result<Vec<ProfileOwner>, StoreError> {
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "select organization_id, workspace_id from workspace_ayrshare_refs \
             where ref_id = $1 order by workspace_id limit $2",
        )
        .bind(ref_id)
        .bind(MAX_PROFILE_OWNERS)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(organization_id, workspace_id)| ProfileOwner {
                organization_id,
                workspace_id,
            })
            .collect())
    }
}
