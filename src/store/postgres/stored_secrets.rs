//! The secret columns on Postgres: the `StoredSecretStore` half of [`PostgresStore`].

use super::*;
use crate::store::{SecretColumn, StoredSecretStore};

#[async_trait]
impl StoredSecretStore for PostgresStore {
    async fn stored_secrets(
        &self,
        column: SecretColumn,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        Ok(sqlx::query_as(&column.page_sql("::uuid"))
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn replace_stored_secret(
        &self,
        column: SecretColumn,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&column.replace_sql())
            .bind(id)
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
        Ok(())
    }
}
