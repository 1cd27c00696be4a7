-- The database work of one POST /social/post, as the service issues it (src/store/postgres.rs:
-- insert_tracking, record_outcome): the write-ahead insert (claiming no idempotency key) and
-- the conditional outcome update, each its own statement and its own commit, each returning the
-- record. pgbench -M prepared runs them as prepared statements, as sqlx does, and the JSON values
-- are parameters (scripts/bench.sh passes them with -D), so that Postgres parses them on every
-- execution as it does the service's: a literal would be parsed once, when the statement is
-- planned.
insert into scheduled_social_posts_v2
     (id, organization_id, workspace_id, api_key_id, post, platforms, media_urls,
      schedule_date, extra, tracked_status, idempotency_key, idempotency_claim,
      request_fingerprint, ayrshare_idempotency_key, created_at, updated_at)
 values (gen_random_uuid(), :organization_id::uuid, :workspace_id::uuid, :api_key_id::uuid,
         'bench: an immediate post to two platforms', '{x,linkedin}', '{}', null, '{}',
         'pending', null, null, null, gen_random_uuid()::text, now(), now())
 on conflict (organization_id, idempotency_claim) where idempotency_claim is not null
 do nothing
 returning id as record_id, organization_id, workspace_id, api_key_id, post, platforms,
     media_urls, schedule_date, extra, provider_post_id, provider_status, tracked_status,
     results, error, provider_response, idempotency_key, request_fingerprint, stored_answer,
     ayrshare_idempotency_key, created_at, updated_at \gset r_
update scheduled_social_posts_v2 set
     tracked_status = 'posted',
     provider_post_id = coalesce('Bf3kQ9rT2mX8vL1nP0aZ', provider_post_id),
     provider_status = coalesce('success', provider_status),
     results = :results::jsonb,
     error = null,
     provider_response = coalesce(:provider_response::jsonb, provider_response),
     stored_answer = coalesce(null::jsonb, stored_answer),
     updated_at = now()
 where id = :r_record_id::uuid and tracked_status = any('{pending}')
 returning id, organization_id, workspace_id, api_key_id, post, platforms, media_urls,
     schedule_date, extra, provider_post_id, provider_status, tracked_status, results, error,
     provider_response, idempotency_key, request_fingerprint, stored_answer,
     ayrshare_idempotency_key, created_at, updated_at;
