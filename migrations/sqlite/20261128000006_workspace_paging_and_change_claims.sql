-- The paged list of workspaces. The same as migrations/postgres, in SQLite's types.

-- GET /whoami pages through an organization's workspaces in this order, by keyset.
create index workspaces_organization_order
    on workspaces (organization_id, is_primary desc, created_at, id);
