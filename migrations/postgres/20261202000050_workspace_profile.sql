-- A workspace whose Ayrshare profile this service creates (issue 18 item 1). Ayrshare shows a
-- profile's key once, so the row is written first ('creating', with the title the profile gets),
-- then Ayrshare is called, then the key is stored ('created'). A row left 'creating' (an answer
-- lost, a crash) is checked by title on retry: a profile found there is 'orphaned' (its key is
-- gone), none found means the create may be sent again. Null: no profile made by us.
alter table workspaces add column profile_state text null
    check (profile_state in ('creating', 'created', 'orphaned'));
alter table workspaces add column profile_title text null;
alter table workspaces add column profile_ref_id text null;
-- One create at a time per row: a retry may only call Ayrshare once this has passed.
alter table workspaces add column profile_claimed_until timestamptz null;
-- The caller's Idempotency-Key of the create: a retry with it finds this row.
alter table workspaces add column idempotency_key text null;
create unique index workspaces_idempotency_key on workspaces (organization_id, idempotency_key)
    where idempotency_key is not null;
