-- The two lookups a create did on every request before they were cached (src/store/postgres.rs:
-- authenticate, find_workspace), as the service sends them. pgbench -f pg_lookups.sql -f pg_write.sql
-- is the per-request work of that design; pg_write.sql alone is today's.
select id, organization_id from api_keys where key_hash = :key_hash::text and revoked_at is null;
select id, organization_id, name, is_primary, ayrshare_profile_key from workspaces
 where organization_id = :organization_id::uuid and (id = null::uuid or (null::uuid is null and is_primary));
