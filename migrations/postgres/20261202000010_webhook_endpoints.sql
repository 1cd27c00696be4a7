-- Webhook endpoints and the delivery of events to them (docs/events.md).
--
-- An event is queued for every endpoint that wants it by a trigger on the outbox, so that the
-- queue is written in the transaction of the change itself, like the event: a change that
-- commits has its deliveries, one that rolls back has none, and no second commit is added to
-- the write path. Delivery workers (in every `serve` with WEBHOOK_DELIVERY on) claim due rows
-- with a lease (`for update skip locked`); a process that dies mid-attempt leaves a lease that
-- runs out, and the attempt is made again, with the same event id.
create table webhook_endpoints (
    id                     uuid primary key,
    organization_id        uuid not null references organizations (id),
    -- Only this workspace's events; null: every workspace of the organization.
    workspace_id           uuid null references workspaces (id),
    url                    text not null,
    -- The event types it wants; null: every type.
    event_types            text[] null,
    description            text null,
    -- The `whsec_` secret, sealed by crate::secrets with the associated data
    -- "webhook_endpoints.secret:<id>" (the same for both columns, so that a rotation moves the
    -- envelope as it is).
    secret                 text not null,
    -- The secret before the last rotation, still signing beside the new one until
    -- previous_secret_until.
    previous_secret        text null,
    previous_secret_until  timestamptz null,
    disabled               boolean not null default false,
    -- Why it was disabled: by the caller, by a 410 Gone, or after failing for
    -- WEBHOOK_DISABLE_AFTER_HOURS.
    disabled_reason        text null,
    -- Since when every attempt has failed (the first failure after the last success).
    failing_since          timestamptz null,
    created_at             timestamptz not null,
    updated_at             timestamptz not null
);

create index webhook_endpoints_organization on webhook_endpoints (organization_id, created_at, id);

-- One event to be delivered to one endpoint.
create table webhook_deliveries (
    id               bigserial primary key,
    endpoint_id      uuid not null references webhook_endpoints (id) on delete cascade,
    event_id         text not null,
    event_type       text not null,
    -- The post event it delivers (social_post_events.seq), rendered when it is attempted; null
    -- for a `webhook.test`, whose whole body is in `payload`. No foreign key: retention may
    -- delete the event first, and the delivery then fails as expired.
    event_seq        bigint null,
    payload          jsonb null,
    state            text not null default 'pending'
                     check (state in ('pending', 'delivered', 'failed')),
    -- Attempts made so far.
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null,
    -- The claim of the process attempting it now: no other claims it before lease_until.
    lease_until      timestamptz null,
    lease_token      uuid null,
    -- Why it failed for good, or why the last attempt failed.
    last_error       text null,
    created_at       timestamptz not null,
    finished_at      timestamptz null
);

create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, id);
create index webhook_deliveries_finished on webhook_deliveries (finished_at) where state <> 'pending';

-- Every attempt, for `GET /webhooks/endpoints/{id}/deliveries`.
create table webhook_attempts (
    id                bigserial primary key,
    delivery_id       bigint not null references webhook_deliveries (id) on delete cascade,
    endpoint_id       uuid not null references webhook_endpoints (id) on delete cascade,
    event_id          text not null,
    event_type        text not null,
    -- 1 for the first attempt of that delivery.
    attempt           integer not null,
    started_at        timestamptz not null,
    duration_ms       integer not null,
    -- The answer's status, or null when none came (then `error` says why).
    http_status       integer null,
    error             text null,
    -- The first 1 KiB of the answer's body.
    response_excerpt  text null
);

create index webhook_attempts_endpoint on webhook_attempts (endpoint_id, id);
create index webhook_attempts_delivery on webhook_attempts (delivery_id);

create function webhook_deliveries_fan_out() returns trigger
language plpgsql as $$
begin
    insert into webhook_deliveries (
        endpoint_id, event_id, event_type, event_seq, next_attempt_at, created_at)
    select e.id, new.event_id, new.type, new.seq, now(), now()
    from webhook_endpoints e
    where e.organization_id = new.organization_id
      and not e.disabled
      and (e.workspace_id is null or e.workspace_id = new.workspace_id)
      and (e.event_types is null or new.type = any (e.event_types));
    return null;
end
$$;

create trigger webhook_deliveries_fan_out
    after insert on social_post_events
    for each row execute function webhook_deliveries_fan_out();
