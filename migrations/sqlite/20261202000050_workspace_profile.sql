-- A workspace whose Ayrshare profile this service creates; see the Postgres migration for the why.
alter table workspaces add column profile_state text null
    check (profile_state in ('creating', 'created', 'orphaned'));
alter table workspaces add column profile_title text null;
alter table workspaces add column profile_ref_id text null;
alter table workspaces add column profile_claimed_until text null;
alter table workspaces add column idempotency_key text null;
create unique index workspaces_idempotency_key on workspaces (organization_id, idempotency_key)
    where idempotency_key is not null;
