//! The tracking records on Postgres: the `PostStore` half of [`PostgresStore`].

use super::*;

#[async_trait]
impl PostStore for PostgresStore {
    async fn insert_tracking(&self, record: &NewTracking) -> Result<Inserted, StoreError> {
        // A concurrent insert with the same claim waits on the unique index until the first
        // commits, then does nothing: exactly one request per key reaches Ayrshare.
        if let Some(row) = self.inserts.submit(record.clone()).await? {
            return Ok(Inserted::New(row));
        }
        let key = record.idempotency_key.as_deref().unwrap_or_default();
        match self.find_claim(record.organization_id, key).await? {
            Some(holder) => Ok(Inserted::Claimed(holder)),
            // Released between the two statements: the key is free again.
            None => Box::pin(self.insert_tracking(record)).await,
        }
    }

    async fn record_outcome(
        &self,
        id: Uuid,
        transition: Transition,
        outcome: &Outcome,
        answer: Option<&StoredAnswerJson>,
    ) -> Result<TrackingRecord, StoreError> {
        let Some(status) = outcome.tracked_status else {
            return self.tracking_by_id(id).await;
        };
        let write = OutcomeWrite {
            id,
            status,
            transition,
            outcome: outcome.clone(),
            answer: answer.cloned(),
        };
        match self.outcomes.submit(write).await? {
            Some(row) => Ok(row),
            None => self.tracking_by_id(id).await,
        }
    }

    async fn find_claim(
        &self,
        organization_id: Uuid,
        key: &str,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where organization_id = $1 and idempotency_claim = $2"
        ))
        .bind(organization_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn store_answer(&self, id: Uuid, answer: &StoredAnswerJson) -> Result<(), StoreError> {
        sqlx::query(
            "update scheduled_social_posts_v2 set stored_answer = $2 \
             where id = $1 and stored_answer is null and idempotency_claim is not null",
        )
        .bind(id)
        .bind(Json(answer.raw()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn settle_answer(&self, id: Uuid, answer: &StoredAnswerJson) -> Result<(), StoreError> {
        sqlx::query(
            "update scheduled_social_posts_v2 set stored_answer = $2 \
             where id = $1 and idempotency_claim is not null",
        )
        .bind(id)
        .bind(Json(answer.raw()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn release_idempotency_claims(
        &self,
        cutoff: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "update scheduled_social_posts_v2 set idempotency_claim = null, stored_answer = null \
             where id in (select id from scheduled_social_posts_v2 \
                          where idempotency_claim is not null and created_at < $1 \
                          order by created_at limit $2 for update skip locked)",
        )
        .bind(cutoff)
        .bind(batch)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn find_tracking(
        &self,
        organization_id: Uuid,
        id: Uuid,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where id = $1 and organization_id = $2"
        ))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn find_tracking_by_post_id(
        &self,
        organization_id: Uuid,
        provider_post_id: &str,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where provider_post_id = $1 and organization_id = $2 \
             order by created_at desc limit 1"
        ))
        .bind(provider_post_id)
        .bind(organization_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn find_tracking_by_provider_post_id(
        &self,
        provider_post_id: &str,
    ) -> Result<Vec<TrackingRecord>, StoreError> {
        let rows: Vec<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where provider_post_id = $1 order by created_at desc limit 10"
        ))
        .bind(provider_post_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TrackingRecord::try_from).collect()
    }

    async fn find_possible_owners(
        &self,
        workspace_id: Uuid,
        post: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<TrackingRecord>, StoreError> {
        let rows: Vec<TrackingRow> = sqlx::query_as(&possible_owners_sql("is not distinct from"))
            .bind(workspace_id)
            .bind(post)
            .bind(from)
            .bind(until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(TrackingRecord::try_from).collect()
    }

    async fn claim_due(&self, due: &DueQuery) -> Result<Option<DueRecord>, StoreError> {
        // `skip locked`: a record another replica is claiming right now is passed over, not
        // waited for; its lease then keeps it from being claimed again until it has been worked.
        let sql = format!(
            "update scheduled_social_posts_v2 set next_check_at = $3 \
             where id = ({inner} for update skip locked) \
             returning {TRACKING_COLUMNS}, check_attempts",
            inner = due_record(due)
        );
        let query = sqlx::query_as(&sql)
            .bind(due.now)
            .bind(due.pending_before)
            .bind(due.lease_until);
        // The pending-only claim has no use for the lookup and check bounds.
        let query = if due.pending_only {
            query
        } else {
            query
                .bind(i64::from(due.max_lookups))
                .bind(i64::from(due.max_checks))
        };
        let row: Option<DueRow> = query.fetch_optional(&self.pool).await?;
        row.map(DueRecord::try_from).transpose()
    }

    async fn set_next_check(
        &self,
        id: Uuid,
        next_check_at: DateTime<Utc>,
        check_attempts: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update scheduled_social_posts_v2 set next_check_at = $2, check_attempts = $3 \
             where id = $1",
        )
        .bind(id)
        .bind(next_check_at)
        .bind(i64::from(check_attempts))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_overdue(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            // A change the track answer shows (`overdue_at`), so `updated_at` moves with it and
            // the changes feed lists it.
            "update scheduled_social_posts_v2 set overdue_at = $2, updated_at = $3 \
             where id = $1 and overdue_at is null",
        )
        .bind(id)
        .bind(at)
        .bind(crate::store::now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_tracking_sizes(
        &self,
        organization_id: Uuid,
        filter: &PostFilter,
        after: Option<Position>,
        limit: i64,
    ) -> Result<Vec<RecordSize>, StoreError> {
        let rows: Vec<RecordSizeRow> = listing(
            &format!("id, created_at, {RECORD_BYTES} as bytes"),
            organization_id,
            filter,
            after,
            limit,
        )
        .build_query_as()
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(RecordSize::from).collect())
    }

    async fn list_change_sizes(
        &self,
        organization_id: Uuid,
        filter: &PostFilter,
        after: Option<ChangePosition>,
        limit: i64,
    ) -> Result<Vec<RecordSize<ChangePosition>>, StoreError> {
        let rows: Vec<ChangeSizeRow> = changes(
            &format!("id, change_xid as change, {RECORD_BYTES} as bytes"),
            organization_id,
            filter,
            after,
            limit,
        )
        .build_query_as()
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(RecordSize::from).collect())
    }

    async fn find_trackings(
        &self,
        organization_id: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<TrackingRecord>, StoreError> {
        let rows: Vec<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where organization_id = $1 and id = any($2) \
             order by created_at desc, id desc"
        ))
        .bind(organization_id)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TrackingRecord::try_from).collect()
    }

    async fn record_schedule_change(
        &self,
        id: Uuid,
        schedule_date: Option<DateTime<Utc>>,
        paused: Option<bool>,
        timezone: Option<&str>,
    ) -> Result<TrackingRecord, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set \
                 schedule_date = coalesce($2, schedule_date), \
                 paused = coalesce($3, paused), \
                 timezone = case when $2 is null then timezone else $5 end, \
                 updated_at = $4 \
             where id = $1 and tracked_status = 'scheduled' \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(id)
        .bind(schedule_date)
        .bind(paused)
        .bind(crate::store::now())
        .bind(timezone)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.try_into(),
            None => self.tracking_by_id(id).await,
        }
    }

    async fn claim_change(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        // A second claim of the same row waits for the first one's commit, then finds the claim
        // taken and updates nothing: exactly one change at a time, across replicas.
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set change_in_flight_until = $3 \
             where id = $1 and (change_in_flight_until is null or change_in_flight_until <= $2) \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(id)
        .bind(now)
        .bind(until)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn release_change(&self, id: Uuid, until: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "update scheduled_social_posts_v2 set change_in_flight_until = null \
             where id = $1 and change_in_flight_until = $2",
        )
        .bind(id)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn begin_retry(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        check_at: DateTime<Utc>,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&crate::store::posts::begin_retry_sql())
            .bind(id)
            .bind(at)
            .bind(check_at)
            .fetch_optional(&self.pool)
            .await?;
        row.map(TrackingRecord::try_from).transpose()
    }

    async fn undo_retry(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Option<TrackingRecord>, StoreError> {
        let row: Option<TrackingRow> = sqlx::query_as(&crate::store::posts::undo_retry_sql())
            .bind(id)
            .bind(at)
            .bind(crate::store::now())
            .fetch_optional(&self.pool)
            .await?;
        row.map(TrackingRecord::try_from).transpose()
    }
}
