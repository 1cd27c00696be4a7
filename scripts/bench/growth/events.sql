-- The events of the year: each record's last change (post.posted, post.failed, ...), and for
-- every fifth record a post.scheduled before it (a post scheduled, then published): about 1.2
-- events per record, `seq` in the order they happened (2i, 2i + 1). Same settings as posts.sql.
set session_replication_role = replica;
set synchronous_commit = off;
insert into social_post_events (
    seq, event_id, type, change_xid, previous_tracked_status, id, organization_id, workspace_id,
    api_key_id, post, platforms, media_urls, schedule_date, extra, provider_post_id,
    provider_status, tracked_status, results, error, idempotency_key, ayrshare_idempotency_key,
    paused, overdue_at, timezone, created_at, updated_at)
select 2 * s.i + e.last, 'evt_' || md5('evt' || (2 * s.i + e.last)), 'post.' || e.status,
       growth.xid_at(e.at, s.started_at, :top), e.previous, s.id, s.organization_id,
       s.workspace_id, s.api_key_id, s.post, s.platforms, s.media_urls, s.schedule_date,
       '{}'::jsonb, s.provider_post_id,
       case e.status when 'scheduled' then 'scheduled' when 'failed' then 'error'
                     when 'unknown' then null else 'success' end,
       e.status, '[]'::jsonb,
       case when e.status = 'failed' then '{"kind": "provider", "message": "Duplicate post"}'::jsonb end,
       case when s.keyed then 'key-' || s.i end,
       case when s.keyed then md5('ayr-key' || s.i)::uuid::text end,
       false, null, null, s.created_at, e.at
from growth.source s
cross join lateral (
    select 1 as last, s.status, s.updated_at as at,
           case when s.i % 5 = 0 and s.status <> 'scheduled' then 'scheduled' end as previous
    union all
    select 0, 'scheduled', s.created_at, null where s.i % 5 = 0 and s.status <> 'scheduled'
) as e;
