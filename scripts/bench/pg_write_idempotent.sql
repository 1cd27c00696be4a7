-- The database work of one POST /social/post with an Idempotency-Key, as the service issues it:
-- pg_write.sql, with the key claimed in the write-ahead insert (a fresh key each time, as in the
-- `idempotent` case: the partial unique index and Postgres's speculative insertion) and the
-- answer (about 1 KB of JSON) stored by the outcome update. The ceiling of the `idempotent` case.
insert into scheduled_social_posts_v2
     (id, organization_id, workspace_id, api_key_id, post, platforms, media_urls,
      schedule_date, extra, tracked_status, idempotency_key, idempotency_claim,
      request_fingerprint, ayrshare_idempotency_key, created_at, updated_at)
 select gen_random_uuid(), :organization_id::uuid, :workspace_id::uuid, :api_key_id::uuid,
        'bench: an immediate post to two platforms', '{x,linkedin}', '{}', null, '{}',
        'pending', claim.key, claim.key, repeat('5e', 32), gen_random_uuid()::text, now(), now()
   from (select gen_random_uuid()::text as key) as claim
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
     stored_answer = coalesce('{"kind":"created","response":{"post_id":"Bf3kQ9rT2mX8vL1nP0aZ","status":"success","links":[{"platform":"x","post_url":"https://x.com/mock/status/1288899996788379648"},{"platform":"linkedin","post_url":"https://www.linkedin.com/feed/update/7034261828145537024"}],"results":[{"platform":"x","status":"success","post_id":"1288899996788379648","post_url":"https://x.com/mock/status/1288899996788379648","message": null},{"platform":"linkedin","status":"success","post_id":"7034261828145537024","post_url":"https://www.linkedin.com/feed/update/7034261828145537024","message": null}],"error": null,"tracking_id":"7a6b6b20-3179-4de3-9784-ee09912f2571","tracked_status":"posted"}}'::jsonb, stored_answer),
     updated_at = now()
 where id = :r_record_id::uuid and tracked_status = any('{pending}')
 returning id, organization_id, workspace_id, api_key_id, post, platforms, media_urls,
     schedule_date, extra, provider_post_id, provider_status, tracked_status, results, error,
     provider_response, idempotency_key, request_fingerprint, stored_answer,
     ayrshare_idempotency_key, created_at, updated_at;
