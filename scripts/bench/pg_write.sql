-- The database work of one POST /social/post, as the service issues it (src/store/postgres.rs:
-- insert_tracking, record_outcome): the write-ahead insert (claiming no idempotency key) and
-- the conditional outcome update, each its own statement and its own commit, each returning the
-- record. pgbench -M prepared runs them as prepared statements, as sqlx does.
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
     results = '[{"platform":"x","status":"success","id":"1288899996788379648","post_url":"https://x.com/mock/status/1288899996788379648"},{"platform":"linkedin","status":"success","id":"7034261828145537024","post_url":"https://www.linkedin.com/feed/update/7034261828145537024"}]',
     error = null,
     provider_response = coalesce('{"status":"success","errors":[],"postIds":[{"status":"success","id":"1288899996788379648","postUrl":"https://x.com/mock/status/1288899996788379648","platform":"twitter"},{"status":"success","id":"7034261828145537024","postUrl":"https://www.linkedin.com/feed/update/7034261828145537024","platform":"linkedin"}],"id":"Bf3kQ9rT2mX8vL1nP0aZ","refId":"9abf1426d6ce9122ef11c72bd62e59807c5cc083","post":"bench: an immediate post to two platforms"}'::jsonb, provider_response),
     stored_answer = coalesce(null::jsonb, stored_answer),
     updated_at = now()
 where id = :r_record_id::uuid and tracked_status = any('{pending}')
 returning id, organization_id, workspace_id, api_key_id, post, platforms, media_urls,
     schedule_date, extra, provider_post_id, provider_status, tracked_status, results, error,
     provider_response, idempotency_key, request_fingerprint, stored_answer,
     ayrshare_idempotency_key, created_at, updated_at;
