-- Webhook endpoints and the delivery of events to them; see the Postgres migration for the
-- design. Ids are hyphenated text, times are the text sqlx writes for a DateTime<Utc>, lists are
-- JSON arrays. SQLite serves one process, so a lease only guards against that process's own
-- restart.
create table webhook_endpoints (
    id                     text primary key,
    organization_id        text not null references organizations (id),
    workspace_id           text null references workspaces (id),
    url                    text not null,
    -- A JSON array of the event types it wants; null: every type.
    event_types            text null check (event_types is null or json_valid(event_types)),
    description            text null,
    secret                 text not null,
    previous_secret        text null,
    previous_secret_until  text null,
    disabled               integer not null default 0,
    disabled_reason        text null,
    failing_since          text null,
    created_at             text not null,
    updated_at             text not null
);

create index webhook_endpoints_organization on webhook_endpoints (organization_id, created_at, id);

create table webhook_deliveries (
    id               integer primary key autoincrement,
    endpoint_id      text not null references webhook_endpoints (id) on delete cascade,
    event_id         text not null,
    event_type       text not null,
    event_seq        integer null,
    payload          text null check (payload is null or json_valid(payload)),
    state            text not null default 'pending'
                     check (state in ('pending', 'delivered', 'failed')),
    attempts         integer not null default 0,
    next_attempt_at  text not null,
    lease_until      text null,
    lease_token      text null,
    last_error       text null,
    created_at       text not null,
    finished_at      text null
);

create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, id);
create index webhook_deliveries_finished on webhook_deliveries (finished_at) where state <> 'pending';

create table webhook_attempts (
    id                integer primary key autoincrement,
    delivery_id       integer not null references webhook_deliveries (id) on delete cascade,
    endpoint_id       text not null references webhook_endpoints (id) on delete cascade,
    event_id          text not null,
    event_type        text not null,
    attempt           integer not null,
    started_at        text not null,
    duration_ms       integer not null,
    http_status       integer null,
    error             text null,
    response_excerpt  text null
);

create index webhook_attempts_endpoint on webhook_attempts (endpoint_id, id);
create index webhook_attempts_delivery on webhook_attempts (delivery_id);

-- The event's own time (the record's updated_at, in sqlx's text) is when its deliveries are due:
-- the same text the worker compares with.
create trigger webhook_deliveries_fan_out
    after insert on social_post_events
begin
    insert into webhook_deliveries (
        endpoint_id, event_id, event_type, event_seq, next_attempt_at, created_at)
    select e.id, new.event_id, new.type, new.seq, new.updated_at, new.updated_at
    from webhook_endpoints e
    where e.organization_id = new.organization_id
      and e.disabled = 0
      and (e.workspace_id is null or e.workspace_id = new.workspace_id)
      and (e.event_types is null
           or exists (select 1 from json_each(e.event_types) where value = new.type));
end;
