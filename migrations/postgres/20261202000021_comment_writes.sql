-- Comment writes (a comment on a post, a reply, a delete) sent to Ayrshare: each is written here
-- before Ayrshare is called and then given its outcome, so that a lost answer leaves `unknown`
-- and nothing is ever sent twice. The idempotency claim works as on the tracking records: the
-- claim IS the insert (a unique index decides), the replayed answer is written with the outcome.
create table comment_writes (
    id                  uuid primary key,
    organization_id     uuid not null references organizations (id),
    workspace_id        uuid not null references workspaces (id),
    api_key_id          uuid not null references api_keys (id),
    -- The post's tracking record and its Ayrshare post id.
    tracking_id         uuid not null references scheduled_social_posts_v2 (id),
    provider_post_id    text not null,
    -- comment | reply | delete
    operation           text not null check (operation in ('comment', 'reply', 'delete')),
    -- The comment replied to or deleted.
    target_comment_id   text null,
    -- Our platform names.
    platforms           text[] not null,
    -- What Ayrshare was sent.
    request             jsonb not null,
    status              text not null check (status in ('pending', 'done', 'partial', 'failed', 'unknown')),
    results             jsonb not null default '[]',
    error               jsonb null,
    provider_response   jsonb null,
    idempotency_key     text null,
    idempotency_claim   text null,
    request_fingerprint text null,
    stored_answer       jsonb null,
    created_at          timestamptz not null,
    updated_at          timestamptz not null
);

create unique index comment_writes_idempotency_claim
    on comment_writes (organization_id, idempotency_claim)
    where idempotency_claim is not null;
create index comment_writes_claims_by_age
    on comment_writes (created_at)
    where idempotency_claim is not null;
-- A post's writes, newest first (the delete looks up the comments this service wrote).
create index comment_writes_by_post on comment_writes (tracking_id, created_at desc);
