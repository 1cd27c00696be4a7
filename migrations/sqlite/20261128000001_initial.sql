-- The same schema as migrations/postgres, in SQLite's types: uuids and timestamps as text,
-- arrays and JSON documents as JSON text.

create table organizations (
    id          text primary key,
    name        text not null unique,
    created_at  text not null
);

create table workspaces (
    id                    text primary key,
    organization_id       text not null references organizations (id),
    name                  text not null,
    is_primary            integer not null default 0,
    ayrshare_profile_key  text null,
    created_at            text not null,
    unique (organization_id, name)
);

create unique index workspaces_one_primary on workspaces (organization_id) where is_primary;

create table api_keys (
    id               text primary key,
    organization_id  text not null references organizations (id),
    key_hash         text not null unique,
    prefix           text not null,
    label            text null,
    created_at       text not null,
    revoked_at       text null
);

create index api_keys_prefix on api_keys (prefix);
create index api_keys_organization on api_keys (organization_id);

create table scheduled_social_posts_v2 (
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
        check (tracked_status in ('pending', 'scheduled', 'posted', 'partial', 'failed', 'unknown', 'cancelled')),
    results            text not null default '[]' check (json_valid(results)),
    error              text null,
    provider_response  text null,
    created_at         text not null,
    updated_at         text not null
);

create index scheduled_social_posts_v2_provider_post_id
    on scheduled_social_posts_v2 (provider_post_id);
create index scheduled_social_posts_v2_organization_created
    on scheduled_social_posts_v2 (organization_id, created_at desc);
create index scheduled_social_posts_v2_open
    on scheduled_social_posts_v2 (updated_at)
    where tracked_status in ('pending', 'unknown', 'scheduled');
