-- Social account connections and their events; see the Postgres migration for the why.
create table workspace_ayrshare_refs (
    workspace_id     text primary key references workspaces (id),
    organization_id  text not null references organizations (id),
    ref_id           text not null,
    learned_at       text not null
);

create index workspace_ayrshare_refs_ref on workspace_ayrshare_refs (ref_id);

create table social_connections (
    id                text primary key,
    organization_id   text not null references organizations (id),
    workspace_id      text not null references workspaces (id),
    platform          text not null,
    connected         integer not null,
    account_id        text null,
    account_username  text null,
    account_name      text null,
    profile_url       text null,
    user_image        text null,
    linked_at         text null,
    unlinked_at       text null,
    reason            text null,
    updated_at        text not null,
    unique (workspace_id, platform)
);

create index social_connections_list
    on social_connections (organization_id, linked_at, id) where connected;

-- SQLite's writers take turns, so one counter in commit order serves both outboxes: an account
-- event takes the next number of social_post_events' own autoincrement (its sqlite_sequence
-- row), and moves that counter on, so that the feed's `seq` is one order over both tables.
create table account_events (
    seq               integer primary key,
    event_id          text not null unique,
    type              text not null,
    organization_id   text not null,
    workspace_id      text not null,
    connection_id     text not null,
    platform          text not null,
    connected         integer not null,
    reason            text not null,
    account_username  text null,
    account_name      text null,
    profile_url       text null,
    user_image        text null,
    linked_at         text null,
    unlinked_at       text null,
    updated_at        text not null
);

create index account_events_feed on account_events (organization_id, seq);
create index account_events_age on account_events (updated_at);

create trigger account_events_take_seq
    after insert on account_events
begin
    update sqlite_sequence set seq = max(seq, new.seq) where name = 'social_post_events';
    insert into sqlite_sequence (name, seq)
        select 'social_post_events', new.seq
        where not exists (select 1 from sqlite_sequence where name = 'social_post_events');
end;

create trigger account_events_fan_out
    after insert on account_events
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
