-- The rest of a post's life: pausing a scheduled post, the list of posts, and when a key was
-- last used.

-- A scheduled post paused through PATCH /social/post/{post_id} (Ayrshare's scheduledPause).
alter table scheduled_social_posts_v2 add column paused boolean not null default false;

-- When the key was last used, kept roughly current (at most one write per key per minute).
alter table api_keys add column last_used_at timestamptz null;

-- GET /social/posts pages through an organization's records newest first, by keyset
-- (created_at, id): the index has the id as well, so that a page starts exactly where the last
-- one ended, without an offset and without a sort. It replaces the index without the id.
drop index scheduled_social_posts_v2_organization_created;
create index scheduled_social_posts_v2_organization_created
    on scheduled_social_posts_v2 (organization_id, created_at desc, id desc);
-- The same order within one status (a rare status would otherwise be found by reading past
-- every other record) and within one workspace. The platform filter reads the organization's
-- index: nearly every post names one of a handful of platforms.
create index scheduled_social_posts_v2_organization_status_created
    on scheduled_social_posts_v2 (organization_id, tracked_status, created_at desc, id desc);
create index scheduled_social_posts_v2_workspace_created
    on scheduled_social_posts_v2 (workspace_id, created_at desc, id desc);
