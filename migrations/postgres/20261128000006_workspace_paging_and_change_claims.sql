-- The paged list of workspaces, and one change of a post in flight at a time.

-- GET /whoami pages through an organization's workspaces in this order, by keyset.
create index workspaces_organization_order
    on workspaces (organization_id, is_primary desc, created_at, id);

-- Until when an update or a delete (a PATCH or DELETE sent to Ayrshare) holds the record: set by
-- a conditional update before Ayrshare is called, cleared once the answer is recorded. In the
-- row, so that it holds across replicas; a claim left by a process that died expires by itself.
alter table scheduled_social_posts_v2 add column change_in_flight_until timestamptz null;
