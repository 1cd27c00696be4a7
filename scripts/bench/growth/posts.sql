-- The tracking records: one INSERT ... SELECT from growth.source (psql variable :top, the
-- transaction ids' ceiling, see growth.xid_at). Triggers and foreign keys are off for the load
-- (session_replication_role = replica): the events are written by events.sql, the references
-- hold by construction.
set session_replication_role = replica;
set synchronous_commit = off;
insert into scheduled_social_posts_v2 (
    id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, schedule_date,
    extra, provider_post_id, provider_status, tracked_status, results, error, provider_response,
    created_at, updated_at, idempotency_key, idempotency_claim, request_fingerprint,
    stored_answer, ayrshare_idempotency_key, next_check_at, check_attempts, overdue_at, paused,
    change_xid, timezone)
select s.id, s.organization_id, s.workspace_id, s.api_key_id, s.post, s.platforms, s.media_urls,
       s.schedule_date, '{}'::jsonb, s.provider_post_id,
       case s.status when 'scheduled' then 'scheduled' when 'unknown' then null
                     when 'failed' then 'error' when 'deleted' then 'deleted' else 'success' end,
       s.status,
       case when s.status in ('unknown', 'scheduled') then '[]'::jsonb
            else (select jsonb_agg(jsonb_build_object(
                     'platform', p, 'status',
                     case when s.status = 'failed' or (s.status = 'partial' and n = 1)
                          then 'error' else 'success' end,
                     'post_id', case when s.status = 'failed' then null else s.i || '0' || n end,
                     'post_url', case when s.status = 'failed' then null
                                      else 'https://social.example/' || p || '/' || s.i end,
                     'message', case when s.status = 'failed' or (s.status = 'partial' and n = 1)
                                     then 'Duplicate post (code 137)' end))
                  from unnest(s.platforms) with ordinality as u(p, n))
       end,
       case when s.status = 'failed'
            then '{"kind": "provider", "message": "Duplicate post", "code": 137}'::jsonb end,
       case when s.status = 'unknown' then null
            else jsonb_build_object('status', case when s.status = 'failed' then 'error' else 'success' end,
                                    'id', s.provider_post_id, 'refId', md5('ref' || s.org),
                                    'post', s.post, 'errors', '[]'::jsonb) end,
       s.created_at, s.updated_at,
       case when s.keyed then 'key-' || s.i end,
       case when s.claimed then 'key-' || s.i end,
       case when s.keyed then md5('fp' || s.i) end,
       case when s.claimed then jsonb_build_object(
                'kind', 'created', 'status', 201,
                'body', jsonb_build_object('tracking_id', s.id, 'status', s.status,
                                           'post_id', s.provider_post_id)) end,
       case when s.keyed then md5('ayr-key' || s.i)::uuid::text end,
       null,
       case when s.status = 'unknown' then 60 else 0 end,
       null, false,
       growth.xid_at(s.updated_at, s.started_at, :top),
       null
from growth.source s;
