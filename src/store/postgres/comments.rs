//! Comment writes on Postgres: the `CommentStore` half of [`PostgresStore`].

use super::*;
use crate::store::comments::{
    CommentWriteRow, RELEASE_SQL, by_id_sql, claim_sql, expire_sql, insert_sql, list_sql,
    outcome_sql, results_json,
};
use crate::store::{CommentStore, CommentWrite, NewCommentWrite, WriteInserted, WriteRecording};

type WriteRow = CommentWriteRow<Uuid, Vec<String>>;

#[async_trait]
impl CommentStore for PostgresStore {
    async fn insert_comment_write(
        &self,
        write: &NewCommentWrite,
    ) -> Result<WriteInserted, StoreError> {
        // A concurrent insert with the same claim waits on the unique index until the first
        // commits, then does nothing: exactly one request per key reaches Ayrshare.
        let row: Option<WriteRow> = sqlx::query_as(&insert_sql())
            .bind(write.id)
            .bind(write.organization_id)
            .bind(write.workspace_id)
            .bind(write.api_key_id)
            .bind(write.tracking_id)
            .bind(&write.provider_post_id)
            .bind(write.operation.as_str())
            .bind(&write.target_comment_id)
            .bind(&write.platforms)
            .bind(Json(&write.request))
            .bind(&write.idempotency_key)
            .bind(&write.request_fingerprint)
            .bind(crate::store::now())
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = row {
            return Ok(WriteInserted::New(row.try_into()?));
        }
        let key = write.idempotency_key.as_deref().unwrap_or_default();
        match self.find_comment_claim(write.organization_id, key).await? {
            Some(holder) => Ok(WriteInserted::Claimed(holder)),
            // Released between the two statements: the key is free again.
            None => Box::pin(self.insert_comment_write(write)).await,
        }
    }

    async fn record_comment_outcome(
        &self,
        id: Uuid,
        recording: &WriteRecording,
        answer: Option<&StoredAnswerJson>,
    ) -> Result<Option<CommentWrite>, StoreError> {
        let row: Option<WriteRow> = sqlx::query_as(&outcome_sql())
            .bind(id)
            .bind(recording.status.as_str())
            .bind(Json(results_json(&recording.results)))
            .bind(recording.error.as_ref().map(Json))
            .bind(recording.provider_response.as_ref().map(Json))
            .bind(answer.map(|a| Json(a.raw())))
            .bind(crate::store::now())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(row.try_into()?)),
            None => self.comment_write_by_id(id).await,
        }
    }

    async fn expire_comment_write(&self, id: Uuid) -> Result<Option<CommentWrite>, StoreError> {
        let row: Option<WriteRow> = sqlx::query_as(&expire_sql())
            .bind(id)
            .bind(crate::store::now())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(row.try_into()?)),
            None => self.comment_write_by_id(id).await,
        }
    }

    async fn find_comment_claim(
        &self,
        organization_id: Uuid,
        key: &str,
    ) -> Result<Option<CommentWrite>, StoreError> {
        let row: Option<WriteRow> = sqlx::query_as(&claim_sql())
            .bind(organization_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(CommentWrite::try_from).transpose()
    }

    async fn list_comment_writes(
        &self,
        organization_id: Uuid,
        tracking_id: Uuid,
        limit: i64,
    ) -> Result<Vec<CommentWrite>, StoreError> {
        let rows: Vec<WriteRow> = sqlx::query_as(&list_sql())
            .bind(organization_id)
            .bind(tracking_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(CommentWrite::try_from).collect()
    }

    async fn release_comment_claims(
        &self,
        cutoff: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(RELEASE_SQL)
            .bind(cutoff)
            .bind(batch)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

impl PostgresStore {
    async fn comment_write_by_id(&self, id: Uuid) -> Result<Option<CommentWrite>, StoreError> {
        let row: Option<WriteRow> = sqlx::query_as(&by_id_sql())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(CommentWrite::try_from).transpose()
    }
}
