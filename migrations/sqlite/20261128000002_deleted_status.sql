-- `deleted`: a published post deleted (through this API or at Ayrshare), beside `cancelled` (a
-- post that never went out).
--
-- SQLite cannot alter a check constraint, so the table is rebuilt the way SQLite documents
-- (https://www.sqlite.org/lang_altertable.html#otheralter): create the new table, copy every
-- row, drop the old table, rename the new one, and recreate the indexes. The migration runs in
-- one transaction, where foreign-key enforcement cannot be switched off; it need not be: no
-- table references this one, and each copied row is checked against its own foreign keys.
-- A later migration that adds a column must sort after this one (it lists the columns).

create table scheduled_social_posts_v2_new (
    id                 text primary key,
    organization_id    text not null references organizations (id),
    workspace_id       text not null references workspaces (id),
    api_key_id         text not null references api_keys (id),
    post               text not null,
    platforms          text not null check (json_valid(platforms)),
    media_urls         text not null default '[]' check (json_valid(media_urls)),
    schedule_date      text null,
    extra              text not null default '{}' check (json_valid(extra)),
    provider_post_id   text null,
    provider_status    text null,
    tracked_status     text not null default 'pending'
        check (tracked_status in ('pending', 'scheduled', 'posted', 'partial', 'failed', 'unknown', 'cancelled', 'deleted')),
    results            text not null default '[]' check (json_valid(results)),
    error              text null,
    provider_response  text null,
    created_at         text not null,
    updated_at         text not null
);

insert into scheduled_social_posts_v2_new (
    id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, schedule_date,
    extra, provider_post_id, provider_status, tracked_status, results, error, provider_response,
    created_at, updated_at
)
select
    id, organization_id, workspace_id, api_key_id, post, platforms, media_urls, schedule_date,
    extra, provider_post_id, provider_status, tracked_status, results, error, provider_response,
    created_at, updated_at
from scheduled_social_posts_v2;

drop table scheduled_social_posts_v2;

alter table scheduled_social_posts_v2_new rename to scheduled_social_posts_v2;

create index scheduled_social_posts_v2_provider_post_id
    on scheduled_social_posts_v2 (provider_post_id);
create index scheduled_social_posts_v2_organization_created
    on scheduled_social_posts_v2 (organization_id, created_at desc);
create index scheduled_social_posts_v2_open
    on scheduled_social_posts_v2 (updated_at)
    where tracked_status in ('pending', 'unknown', 'scheduled');
