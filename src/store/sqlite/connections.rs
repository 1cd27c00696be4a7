//! Connections on SQLite: the `ConnectionStore` half of [`SqliteStore`]. A change takes the
//! write lock with its first statement (SQLite's writers take turns), so that it reads the state
//! it changes; an account event takes the next number of the post events' counter (see the
//! migration `connections`).

use super::*;
use crate::domain::Platform;
use crate::domain::connection::{ConnectionChange, ConnectionPosition, Observation, apply};
use crate::store::connections::{
    CONNECTION_COLUMNS, ConnectionApplied, ConnectionFilter, ConnectionRow, ConnectionStore,
    MAX_PROFILE_OWNERS, ProfileOwner, StoredConnection, UPDATE_CONNECTION, event_reason,
    new_event_id,
};

type Row = ConnectionRow<Hyphenated>;

async fn current(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    workspace_id: Uuid,
    platform: Platform,
) -> Result<Option<StoredConnection>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "select {CONNECTION_COLUMNS} from social_connections \
         where workspace_id = $1 and platform = $2"
    ))
    .bind(workspace_id.hyphenated())
    .bind(platform.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(StoredConnection::try_from).transpose()
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn apply_connection(
        &self,
        change: &ConnectionChange,
    ) -> Result<ConnectionApplied, StoreError> {
        let mut tx = self.pool.begin().await?;
        // A write first: it takes the write lock, so that what is read next stays true until
        // the commit (a read first could not be upgraded once another writer committed).
        if change.observation == Observation::Disconnected {
            sqlx::query(
                "update social_connections set platform = platform \
                 where workspace_id = $1 and platform = $2",
            )
            .bind(change.workspace_id.hyphenated())
            .bind(change.platform.as_str())
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "insert into social_connections \
                 (id, organization_id, workspace_id, platform, connected, updated_at) \
                 values ($1, $2, $3, $4, 0, $5) on conflict (workspace_id, platform) do nothing",
            )
            .bind(Uuid::new_v4().hyphenated())
            .bind(change.organization_id.hyphenated())
            .bind(change.workspace_id.hyphenated())
            .bind(change.platform.as_str())
            .bind(change.at)
            .execute(&mut *tx)
            .await?;
        }
        let Some(current) = current(&mut tx, change.workspace_id, change.platform).await? else {
            // Never stored, and not linked: nothing to say.
            return Ok(ConnectionApplied {
                connection: None,
                event: None,
            });
        };
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
            .bind(current.id.hyphenated())
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
                "insert into account_events (seq, event_id, type, organization_id, workspace_id, \
                 connection_id, platform, connected, reason, account_username, account_name, \
                 profile_url, user_image, linked_at, unlinked_at, updated_at) \
                 values ((select max(coalesce((select seq from sqlite_sequence \
                                              where name = 'social_post_events'), 0), \
                                     coalesce((select max(seq) from social_post_events), 0), \
                                     coalesce((select max(seq) from account_events), 0)) + 1), \
                         $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&event_id)
            .bind(kind)
            .bind(current.organization_id.hyphenated())
            .bind(current.workspace_id.hyphenated())
            .bind(current.id.hyphenated())
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
        .bind(workspace_id.hyphenated())
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
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "select {CONNECTION_COLUMNS} from social_connections where connected \
             and organization_id = "
        ));
        query.push_bind(organization_id.hyphenated());
        if let Some(workspace_id) = filter.workspace_id {
            query
                .push(" and workspace_id = ")
                .push_bind(workspace_id.hyphenated());
        }
        if let Some(platform) = filter.platform {
            query.push(" and platform = ").push_bind(platform.as_str());
        }
        if let Some(after) = after {
            query
                .push(" and (linked_at, id) > (")
                .push_bind(after.linked_at)
                .push(", ")
                .push_bind(after.id.hyphenated())
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
        .bind(workspace_id.hyphenated())
        .bind(organization_id.hyphenated())
        .bind(ref_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_profile_owners(&self, ref_id: &str) -> Result<Vec<ProfileOwner>, StoreError> {
        let rows: Vec<(Hyphenated, Hyphenated)> = sqlx::query_as(
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
                organization_id: organization_id.into_uuid(),
                workspace_id: workspace_id.into_uuid(),
            })
            .collect())
    }
}
