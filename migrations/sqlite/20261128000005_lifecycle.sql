-- The rest of a post's life: pausing a scheduled post, the list of posts, and when a key was
-- last used. The same as migrations/postgres, in SQLite's types (timestamps as RFC 3339 text,
-- whose order is their time order because every one is written the same way).

-- A scheduled post paused through PATCH /social/post/{post_id} (Ayrshare's scheduledPause).
alter table scheduled_social_posts_v2 add column paused integer not null default 0;

-- When the key was last used, kept roughly current (at most one write per key per minute).
alter table api_keys add column last_used_at text null;

-- GET /social/posts pages through an organization's records newest first, by keyset
-- (created_at, id); see the Postgres migration.
drop index scheduled_social_posts_v2_organization_created;
create index scheduled_social_posts_v2_organization_created
    on scheduled_social_posts_v2 (organization_id, created_at desc, id desc);
create index scheduled_social_posts_v2_organization_status_created
    on scheduled_social_posts_v2 (organization_id, tracked_status, created_at desc, id desc);
create index scheduled_social_posts_v2_workspace_created
    on scheduled_social_posts_v2 (workspace_id, created_at desc, id desc);
