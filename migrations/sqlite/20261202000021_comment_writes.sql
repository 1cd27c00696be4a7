-- Comment writes (a comment on a post, a reply, a delete) sent to Ayrshare: each is written here
-- before Ayrshare is called and then given its outcome, so that a lost answer leaves `unknown`
-- and nothing is ever sent twice. The idempotency claim works as on the tracking records: the
-- claim IS the insert (a unique index decides), the replayed answer is written with the outcome.
create table comment_writes (
    id                  text primary key,
    organization_id     text not null references organizations (id),
    workspace_id        text not null references workspaces (id),
    api_key_id          text not null references api_keys (id),
    -- The post's tracking record and its Ayrshare post id.
    tracking_id         text not null references scheduled_social_posts_v2 (id),
    provider_post_id    text not null,
    -- comment | reply | delete
    operation           text not null check (operation in ('comment', 'reply', 'delete')),
    -- The comment replied to or deleted.
    target_comment_id   text null,
    -- Our platform names, a JSON array.
    platforms           text not null check (json_valid(platforms)),
    -- What Ayrshare was sent.
    request             text not null check (json_valid(request)),
    status              text not null check (status in ('pending', 'done', 'partial', 'failed', 'unknown')),
    results             text not null default '[]' check (json_valid(results)),
    error               text null check (error is null or json_valid(error)),
    provider_response   text null check (provider_response is null or json_valid(provider_response)),
    idempotency_key     text null,
    idempotency_claim   text null,
    request_fingerprint text null,
    stored_answer       text null check (stored_answer is null or json_valid(stored_answer)),
    created_at          text not null,
    updated_at          text not null
);

create unique index comment_writes_idempotency_claim
    on comment_writes (organization_id, idempotency_claim)
    where idempotency_claim is not null;
create index comment_writes_claims_by_age
    on comment_writes (created_at)
    where idempotency_claim is not null;
-- A post's writes, newest first (the delete looks up the comments this service wrote).
create index comment_writes_by_post on comment_writes (tracking_id, created_at desc);
