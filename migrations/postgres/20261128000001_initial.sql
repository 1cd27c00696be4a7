-- Organizations own API keys and workspaces; every create request leaves one tracking record.

create table organizations (
    id          uuid primary key,
    name        text not null unique,
    created_at  timestamptz not null default now()
);

create table workspaces (
    id                    uuid primary key,
    organization_id       uuid not null references organizations (id),
    name                  text not null,
    is_primary            boolean not null default false,
    -- Ayrshare's Profile-Key for this workspace; null means the primary Ayrshare profile.
    ayrshare_profile_key  text null,
    created_at            timestamptz not null default now(),
    unique (organization_id, name)
);

-- Exactly one primary workspace per organization.
create unique index workspaces_one_primary on workspaces (organization_id) where is_primary;

create table api_keys (
    id               uuid primary key,
    organization_id  uuid not null references organizations (id),
    -- SHA-256 of the whole key, hex; the key itself is never stored.
    key_hash         text not null unique,
    -- 'mk_' and the next 8 characters, for listing and revoking.
    prefix           text not null,
    label            text null,
    created_at       timestamptz not null default now(),
    revoked_at       timestamptz null
);

create index api_keys_prefix on api_keys (prefix);
create index api_keys_organization on api_keys (organization_id);

create table scheduled_social_posts_v2 (
    id                 uuid primary key,
    organization_id    uuid not null references organizations (id),
    workspace_id       uuid not null references workspaces (id),
    api_key_id         uuid not null references api_keys (id),
    post               text not null,
    platforms          text[] not null,
    media_urls         text[] not null default '{}',
    schedule_date      timestamptz null,
    -- The forwarded extra keys of the request.
    extra              jsonb not null default '{}',
    provider_post_id   text null,
    provider_status    text null,
    tracked_status     text not null default 'pending'
        check (tracked_status in ('pending', 'scheduled', 'posted', 'partial', 'failed', 'unknown', 'cancelled')),
    results            jsonb not null default '[]',
    error              jsonb null,
    provider_response  jsonb null,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);

create index scheduled_social_posts_v2_provider_post_id
    on scheduled_social_posts_v2 (provider_post_id);
-- Listing an organization's posts, newest first.
create index scheduled_social_posts_v2_organization_created
    on scheduled_social_posts_v2 (organization_id, created_at desc);
-- What a reconciler will scan: records whose outcome is still open.
create index scheduled_social_posts_v2_open
    on scheduled_social_posts_v2 (updated_at)
    where tracked_status in ('pending', 'unknown', 'scheduled');
