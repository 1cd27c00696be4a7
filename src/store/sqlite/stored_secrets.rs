//! The secret columns on Sqlite: the `StoredSecretStore` half of [`SqliteStore`].

use super::*;
use crate::store::{SecretColumn, StoredSecretStore};

#[async_trait]
impl StoredSecretStore for SqliteStore {
    async fn stored_secrets(
        &self,
        column: SecretColumn,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        let rows: Vec<(Hyphenated, String)> = sqlx::query_as(&column.page_sql(""))
            .bind(after.map(Uuid::hyphenated))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, value)| (id.into_uuid(), value))
            .collect())
    }

    async fn replace_stored_secret(
        &self,
        column: SecretColumn,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&column.replace_sql())
            .bind(id.hyphenated())
            .bind(old)
            .bind(new)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn any_sealed_secret(&self, column: SecretColumn) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(&column.any_sealed_sql())
            .fetch_one(&self.pool)
            .await?)
    }

    async fn scrub_replaced_secrets(&self) -> Result<(), StoreError> {
        sqlx::query("pragma wal_checkpoint(truncate)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
