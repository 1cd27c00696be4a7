-- The growth data, as a view over generate_series (inlined into each INSERT ... SELECT, so
-- that both tables' rows derive from the same formulas without a join): record i of :records,
-- created at an even pace over the year before the build, spread over :orgs organizations by a
-- hash of i (so that no organization gets one status or one platform only).
--
-- The mix (by residues of i, independent of the organization):
--   10 %   scheduled (i % 10 = 3); of those 1 % due now (schedule_date a few minutes ago), the
--          rest due in 1 to 300 days: 1,000,000 scheduled and 10,000 due at 10M records
--   2 %    failed, 2 % partial, 2 % deleted, 0.1 % cancelled, 0.01 % unknown (checks spent)
--   the rest posted
--   a third with an Idempotency-Key; the claim (and a stored answer) is still held by those of
--   the last 30 days: the last day's within the default 24 h retention, the 29 days before
--   it a backlog for the purge
--   20 % in the organization's second workspace, the rest in its primary one
create schema growth;
create view growth.source as
with params as (
    select now() as built_at, now() - interval '365 days' as started_at,
           :records::bigint as records, :orgs::int as orgs
),
rows as (
    select i,
           ((hashint8(i)::bigint % p.orgs) + p.orgs) % p.orgs as org,
           p.started_at + (i - 1) * (interval '365 days' / p.records) as created_at,
           p.built_at, p.started_at,
           case
               when i % 10 = 3 then 'scheduled'
               when i % 50 = 1 then 'failed'
               when i % 50 = 11 then 'partial'
               when i % 50 = 21 then 'deleted'
               when i % 1000 = 41 then 'cancelled'
               when i % 10000 = 67 then 'unknown'
               else 'posted'
           end as status,
           (i / 10) % 100 = 0 as due,
           i % 3 = 0 as keyed,
           (i / 3) % 5 = 0 as second_workspace
    from params p, generate_series(1, p.records) as i
)
select r.i, r.org, r.status, r.created_at, r.keyed,
       md5('post' || r.i)::uuid as id,
       md5('org' || r.org)::uuid as organization_id,
       md5(case when r.second_workspace then 'ws2-' else 'ws-' end || r.org)::uuid as workspace_id,
       md5('key' || r.org)::uuid as api_key_id,
       'Growth benchmark post number ' || r.i || ': a launch note of ordinary length, with a link '
           || 'https://example.com/p/' || r.i || ' and two hashtags #growth #bench' as post,
       case r.i % 6
           when 0 then array['x', 'linkedin']
           when 1 then array['facebook']
           when 2 then array['instagram', 'facebook']
           when 3 then array['x']
           when 4 then array['linkedin']
           else array['tiktok', 'youtube']
       end as platforms,
       case when r.i % 4 = 0 then array['https://example.com/media/' || r.i || '.jpg']
            else '{}'::text[] end as media_urls,
       case
           when r.status = 'scheduled' and r.due
               then r.built_at - (1 + r.i % 97) * interval '1 minute'
           when r.status = 'scheduled' then r.built_at + (1 + r.i % 300) * interval '1 day'
       end as schedule_date,
       -- Ayrshare gives a scheduled post its id at once; an unknown record never got one.
       case when r.status = 'unknown' then null else 'ayr' || r.i end as provider_post_id,
       -- Settled a few seconds after the create; a deletion some days later (never past the build).
       least(r.built_at, r.created_at + case
           when r.status = 'deleted' then (1 + r.i % 20) * interval '1 day'
           when r.status = 'scheduled' then interval '0'
           else (1 + r.i % 30) * interval '1 second' end) as updated_at,
       r.keyed and r.created_at > r.built_at - interval '30 days' as claimed,
       r.started_at, r.built_at
from rows r;

-- The transaction id that made a change at `at`: growing with time over the year, below every
-- transaction id the server hands out later (the feeds only list changes below the oldest running
-- transaction), shared by neighbouring changes as group commit shares one transaction.
create function growth.xid_at(at timestamptz, started_at timestamptz, top bigint) returns bigint
language sql immutable as $$
    select 1000 + floor(extract(epoch from (at - started_at)) / (365 * 86400) * (top - 2000))::bigint
$$;
