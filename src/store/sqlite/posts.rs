//! The tracking records on SQLite: the `PostStore` half of [`SqliteStore`].

use super::*;

#[async_trait]
impl PostStore for SqliteStore {
    async fn insert_tracking(&self, record: &NewTracking) -> Result<Inserted, StoreError> {
        // SQLite has one writer at a time, so the unique index decides between two requests
        // with the same claim just as Postgres does.
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "insert into scheduled_social_posts_v2 \
                 (id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, \
                  schedule_date, extra, tracked_status, idempotency_key, idempotency_claim, \
                  request_fingerprint, ayrshare_idempotency_key, created_at, updated_at, \
                  timezone) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $11, $11, $12, $13, $10, $10, \
                     $14) \
             on conflict (organization_id, idempotency_claim) where idempotency_claim is not null \
             do nothing \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(record.id.hyphenated())
        .bind(record.organization_id.hyphenated())
        .bind(record.workspace_id.hyphenated())
        .bind(record.api_key_id.hyphenated())
        .bind(&record.post)
        .bind(Json(&record.platforms))
        .bind(Json(&record.media_urls))
        .bind(record.schedule_date)
        .bind(Json(&record.extra))
        .bind(crate::store::now())
        .bind(&record.idempotency_key)
        .bind(&record.request_fingerprint)
        .bind(&record.ayrshare_idempotency_key)
        .bind(&record.timezone)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(Inserted::New(row.try_into()?));
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
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set \
                 tracked_status = $2, \
                 provider_post_id = coalesce($3, provider_post_id), \
                 provider_status = coalesce($4, provider_status), \
                 results = $5, error = $6, \
                 provider_response = coalesce($7, provider_response), \
                 stored_answer = coalesce($10, stored_answer), \
                 updated_at = $8 \
             where id = $1 and tracked_status in (select value from json_each($9)) \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(id.hyphenated())
        .bind(status.as_str())
        .bind(&outcome.provider_post_id)
        .bind(&outcome.provider_status)
        .bind(Json(results_json(&outcome.results)))
        .bind(outcome.error.as_ref().map(Json))
        .bind(outcome.provider_response.as_ref().map(Json))
        .bind(crate::store::now())
        .bind(Json(source_names(&status, transition)))
        .bind(answer.map(|a| Json(a.raw())))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.try_into(),
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
        .bind(organization_id.hyphenated())
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
        .bind(id.hyphenated())
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
        .bind(id.hyphenated())
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
                          order by created_at limit $2)",
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
        .bind(id.hyphenated())
        .bind(organization_id.hyphenated())
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
        .bind(organization_id.hyphenated())
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
        let rows: Vec<TrackingRow> = sqlx::query_as(&possible_owners_sql("is"))
            .bind(workspace_id.hyphenated())
            .bind(post)
            .bind(from)
            .bind(until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(TrackingRecord::try_from).collect()
    }

    async fn claim_due(&self, due: &DueQuery) -> Result<Option<DueRecord>, StoreError> {
        // SQLite has one writer at a time: the select and the update are one statement, so two
        // reconcilers on one file cannot claim the same record.
        let sql = format!(
            "update scheduled_social_posts_v2 set next_check_at = $3 \
             where id = ({inner}) \
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
        .bind(id.hyphenated())
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
        .bind(id.hyphenated())
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
        let ids: Vec<Hyphenated> = ids.iter().map(|id| id.hyphenated()).collect();
        let rows: Vec<TrackingRow> = sqlx::query_as(&format!(
            "select {TRACKING_COLUMNS} from scheduled_social_posts_v2 \
             where organization_id = $1 and id in (select value from json_each($2)) \
             order by created_at desc, id desc"
        ))
        .bind(organization_id.hyphenated())
        .bind(Json(ids))
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
        .bind(id.hyphenated())
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
        // One writer at a time: the check and the claim are one statement.
        let row: Option<TrackingRow> = sqlx::query_as(&format!(
            "update scheduled_social_posts_v2 set change_in_flight_until = $3 \
             where id = $1 and (change_in_flight_until is null or change_in_flight_until <= $2) \
             returning {TRACKING_COLUMNS}"
        ))
        .bind(id.hyphenated())
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
        .bind(id.hyphenated())
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
            .bind(id.hyphenated())
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
            .bind(id.hyphenated())
            .bind(at)
            .bind(crate::store::now())
            .fetch_optional(&self.pool)
            .await?;
        row.map(TrackingRecord::try_from).transpose()
    }
}
