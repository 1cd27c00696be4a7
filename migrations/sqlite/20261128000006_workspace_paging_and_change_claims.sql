-- The paged list of workspaces, and one change of a post in flight at a time. The same as
-- migrations/postgres, in SQLite's types.

-- GET /whoami pages through an organization's workspaces in this order, by keyset.
create index workspaces_organization_order
    on workspaces (organization_id, is_primary desc, created_at, id);

-- Until when an update or a delete holds the record (see the Postgres migration).
alter table scheduled_social_posts_v2 add column change_in_flight_until text null;
