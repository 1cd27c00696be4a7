//! Organizations, keys and workspaces on Postgres: the `AccountStore` half of [`PostgresStore`].

use super::*;

#[async_trait]
impl AccountStore for PostgresStore {
    async fn authenticate(&self, hash: &KeyHash) -> Result<Option<Caller>, StoreError> {
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(
            "select id, organization_id from api_keys where key_hash = $1 and revoked_at is null",
        )
        .bind(&hash.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(api_key_id, organization_id)| Caller {
            organization_id,
            api_key_id,
        }))
    }

    async fn find_workspace(
        &self,
        organization_id: Uuid,
        workspace_id: Option<Uuid>,
    ) -> Result<Option<Workspace>, StoreError> {
        let row: Option<WorkspaceRow> = sqlx::query_as(&format!(
            "select {WORKSPACE_COLUMNS} from workspaces \
             where organization_id = $1 and (id = $2 or ($2 is null and is_primary))"
        ))
        .bind(organization_id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| row.open(&self.secrets)).transpose()
    }

    async fn ensure_organization(&self, name: &str) -> Result<Organization, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Two concurrent `keys create` for a new name: the loser waits on the unique index and
        // then finds the winner's row.
        let inserted: Option<OrganizationRow> = sqlx::query_as(
            "insert into organizations (id, name, created_at) values ($1, $2, $3) \
             on conflict (name) do nothing returning id, name, created_at",
        )
        .bind(Uuid::new_v4())
        .bind(name)
        .bind(crate::store::now())
        .fetch_optional(&mut *tx)
        .await?;
        let organization = match inserted {
            Some(row) => {
                sqlx::query(
                    "insert into workspaces (id, organization_id, name, is_primary, created_at) \
                     values ($1, $2, $3, true, $4)",
                )
                .bind(Uuid::new_v4())
                .bind(row.id)
                .bind(PRIMARY_WORKSPACE_NAME)
                .bind(crate::store::now())
                .execute(&mut *tx)
                .await?;
                row
            }
            None => {
                sqlx::query_as("select id, name, created_at from organizations where name = $1")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        tx.commit().await?;
        Ok(organization.into())
    }

    async fn find_organization(&self, name: &str) -> Result<Option<Organization>, StoreError> {
        let row: Option<OrganizationRow> =
            sqlx::query_as("select id, name, created_at from organizations where name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Organization::from))
    }

    async fn find_organization_by_id(&self, id: Uuid) -> Result<Option<Organization>, StoreError> {
        let row: Option<OrganizationRow> =
            sqlx::query_as("select id, name, created_at from organizations where id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Organization::from))
    }

    async fn list_workspaces(
        &self,
        organization_id: Uuid,
    ) -> Result<Vec<WorkspaceInfo>, StoreError> {
        let rows: Vec<WorkspaceInfoRow> = sqlx::query_as(&format!(
            "select {WORKSPACE_INFO_COLUMNS} from workspaces where organization_id = $1 \
             order by is_primary desc, created_at, id"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(WorkspaceInfo::from).collect())
    }

    async fn list_workspace_page(
        &self,
        organization_id: Uuid,
        after: Option<WorkspacePosition>,
        limit: i64,
    ) -> Result<Vec<WorkspaceInfo>, StoreError> {
        // The one primary workspace comes first: after it, every other one; after another one,
        // those later in (created_at, id).
        let rows: Vec<WorkspaceInfoRow> = sqlx::query_as(&format!(
            "select {WORKSPACE_INFO_COLUMNS} from workspaces where organization_id = $1 \
             and ($2::boolean is null \
                  or ($2 and not is_primary) \
                  or (not $2 and not is_primary and (created_at, id) > ($3, $4))) \
             order by is_primary desc, created_at, id limit $5"
        ))
        .bind(organization_id)
        .bind(after.map(|a| a.is_primary))
        .bind(after.map(|a| a.created_at))
        .bind(after.map(|a| a.id))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(WorkspaceInfo::from).collect())
    }

    async fn count_organizations(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select count(*) from organizations")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn find_workspace_info(
        &self,
        organization_id: Uuid,
        id: Uuid,
    ) -> Result<Option<WorkspaceInfo>, StoreError> {
        let row: Option<WorkspaceInfoRow> = sqlx::query_as(&format!(
            "select {WORKSPACE_INFO_COLUMNS} from workspaces where organization_id = $1 and id = $2"
        ))
        .bind(organization_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(WorkspaceInfo::from))
    }

    async fn create_workspace(
        &self,
        organization_id: Uuid,
        name: &str,
        ayrshare_profile_key: Option<&str>,
    ) -> Result<Workspace, StoreError> {
        let id = Uuid::new_v4();
        // Sealed here, bound to the row: the key never reaches the table in clear.
        let sealed = ayrshare_profile_key
            .map(|key| self.secrets.seal(key, &crate::store::profile_key_aad(id)))
            .transpose()
            .map_err(|e| StoreError::Secret(format!("the workspace's profile key: {e}")))?;
        let row: Option<WorkspaceRow> = sqlx::query_as(&format!(
            "insert into workspaces (id, organization_id, name, is_primary, ayrshare_profile_key, created_at) \
             values ($1, $2, $3, false, $4, $5) \
             on conflict (organization_id, name) do nothing returning {WORKSPACE_COLUMNS}"
        ))
        .bind(id)
        .bind(organization_id)
        .bind(name)
        .bind(sealed)
        .bind(crate::store::now())
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| StoreError::Conflict(format!("a workspace named {name} already exists")))?
            .open(&self.secrets)
    }

    async fn insert_workspace(
        &self,
        organization_id: Uuid,
        id: Uuid,
        name: &str,
        profile_title: Option<&str>,
        idempotency_key: Option<&str>,
        claim_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Either unique index (name, idempotency key) stops the insert; the caller reads which.
        let done = sqlx::query(
            "insert into workspaces (id, organization_id, name, is_primary, created_at, \
             profile_state, profile_title, profile_claimed_until, idempotency_key) \
             values ($1, $2, $3, false, $4, \
             case when $5::text is null then null else 'creating' end, $5, \
             case when $5::text is null then null else $6 end, $7) \
             on conflict do nothing",
        )
        .bind(id)
        .bind(organization_id)
        .bind(name)
        .bind(crate::store::now())
        .bind(profile_title)
        .bind(claim_until)
        .bind(idempotency_key)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_profile_create(
        &self,
        organization_id: Uuid,
        idempotency_key: Option<&str>,
        name: &str,
    ) -> Result<Option<crate::store::ProfileCreate>, StoreError> {
        let row: Option<rows::ProfileCreateRow<Uuid>> = sqlx::query_as(&format!(
            "select {} from workspaces where organization_id = $1 \
             and (idempotency_key = $2 or name = $3) \
             order by case when idempotency_key = $2 then 0 else 1 end limit 1",
            rows::PROFILE_CREATE_COLUMNS
        ))
        .bind(organization_id)
        .bind(idempotency_key)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(crate::store::ProfileCreate::from))
    }

    async fn claim_profile_create(
        &self,
        organization_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update workspaces set profile_claimed_until = $3, profile_state = 'creating' \
             where organization_id = $1 and id = $2 \
             and profile_state in ('creating', 'orphaned') \
             and (profile_claimed_until is null or profile_claimed_until < $4)",
        )
        .bind(organization_id)
        .bind(id)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn settle_profile_create(
        &self,
        organization_id: Uuid,
        id: Uuid,
        settle: crate::store::ProfileSettle,
    ) -> Result<(), StoreError> {
        use crate::store::ProfileSettle;
        use secrecy::ExposeSecret;
        let query = match settle {
            ProfileSettle::Created {
                profile_key,
                ref_id,
            } => {
                // Sealed here, bound to the row: the key never reaches the table in clear.
                let sealed = self
                    .secrets
                    .seal(
                        profile_key.expose_secret(),
                        &crate::store::profile_key_aad(id),
                    )
                    .map_err(|e| StoreError::Secret(format!("the workspace's profile key: {e}")))?;
                sqlx::query(
                    "update workspaces set ayrshare_profile_key = $3, profile_state = 'created', \
                     profile_ref_id = $4, profile_claimed_until = null \
                     where organization_id = $1 and id = $2 and profile_state = 'creating'",
                )
                .bind(organization_id)
                .bind(id)
                .bind(sealed)
                .bind(ref_id)
            }
            ProfileSettle::Orphaned { ref_id } => sqlx::query(
                "update workspaces set profile_state = 'orphaned', \
                 profile_ref_id = coalesce($3, profile_ref_id), profile_claimed_until = null \
                 where organization_id = $1 and id = $2 \
                 and profile_state in ('creating', 'orphaned')",
            )
            .bind(organization_id)
            .bind(id)
            .bind(ref_id),
            ProfileSettle::Released => sqlx::query(
                "update workspaces set profile_claimed_until = null \
                 where organization_id = $1 and id = $2 and profile_state = 'creating'",
            )
            .bind(organization_id)
            .bind(id),
            ProfileSettle::Refused => sqlx::query(
                "delete from workspaces \
                 where organization_id = $1 and id = $2 and profile_state = 'creating'",
            )
            .bind(organization_id)
            .bind(id),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_api_key(
        &self,
        organization_id: Uuid,
        hash: &KeyHash,
        prefix: &str,
        label: Option<&str>,
    ) -> Result<ApiKeyInfo, StoreError> {
        let row: ApiKeyRow = sqlx::query_as(&format!(
            "insert into api_keys (id, organization_id, key_hash, prefix, label, created_at) \
             values ($1, $2, $3, $4, $5, $6) returning {API_KEY_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(organization_id)
        .bind(&hash.0)
        .bind(prefix)
        .bind(label)
        .bind(crate::store::now())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    async fn list_api_keys(&self, organization_id: Uuid) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "select {API_KEY_COLUMNS} from api_keys where organization_id = $1 \
             order by created_at, id"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ApiKeyInfo::from).collect())
    }

    async fn find_api_key(&self, id: Uuid) -> Result<Option<ApiKeyInfo>, StoreError> {
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
            "select {API_KEY_COLUMNS} from api_keys where id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(ApiKeyInfo::from))
    }

    async fn touch_api_key(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update api_keys set last_used_at = $2 \
             where id = $1 and (last_used_at is null or last_used_at < $3)",
        )
        .bind(id)
        .bind(at)
        .bind(not_before)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revoke_api_key(&self, id_or_prefix: &str) -> Result<ApiKeyInfo, StoreError> {
        let id = Uuid::parse_str(id_or_prefix).ok();
        let mut tx = self.pool.begin().await?;
        let found: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "select {API_KEY_COLUMNS} from api_keys where id = $1 or prefix = $2 for update"
        ))
        .bind(id)
        .bind(id_or_prefix)
        .fetch_all(&mut *tx)
        .await?;
        let key = pick_key(
            id_or_prefix,
            found.into_iter().map(ApiKeyInfo::from).collect(),
        )?;
        let row: ApiKeyRow = sqlx::query_as(&format!(
            "update api_keys set revoked_at = coalesce(revoked_at, $2) where id = $1 \
             returning {API_KEY_COLUMNS}"
        ))
        .bind(key.id)
        .bind(crate::store::now())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }
}
