-- The organizations (:orgs), each with its primary workspace, a second workspace and one API
-- key whose secret the measuring step can rebuild: mk_growth followed by the organization's
-- number in 34 digits (the shape `keys create` gives: mk_ and at least 32 URL-safe characters),
-- stored as `keys create` stores it (src/store/postgres/accounts.rs): the SHA-256 hex of the
-- key, and its first 11 characters as the prefix.
insert into organizations (id, name, created_at)
select md5('org' || o)::uuid, 'growth-' || o, now() - interval '366 days'
from generate_series(0, :orgs - 1) as o;

insert into workspaces (id, organization_id, name, is_primary, created_at)
select md5('ws-' || o)::uuid, md5('org' || o)::uuid, 'primary', true, now() - interval '366 days'
from generate_series(0, :orgs - 1) as o
union all
select md5('ws2-' || o)::uuid, md5('org' || o)::uuid, 'second', false, now() - interval '366 days'
from generate_series(0, :orgs - 1) as o;

insert into api_keys (id, organization_id, key_hash, prefix, label, created_at)
select md5('key' || o)::uuid, md5('org' || o)::uuid,
       encode(sha256(convert_to(k, 'UTF8')), 'hex'), left(k, 11), 'growth',
       now() - interval '366 days'
from generate_series(0, :orgs - 1) as o,
     lateral (select 'mk_growth' || lpad(o::text, 34, '0') as k) as key;
