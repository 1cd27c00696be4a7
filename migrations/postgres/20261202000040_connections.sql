-- Social account connections (docs/connections.md): what is known of each (workspace, platform)
-- link at Ayrshare, kept true by the status route, Ayrshare's `social` webhook and posts refused
-- because the platform is not linked; and their events, in the feed and delivered like the
-- post events (docs/events.md).

-- The Ayrshare profile (its refId) a workspace acts on, learned from Ayrshare's answers, so that a
-- `social` webhook (which names only the refId) finds its workspaces. Not unique: every
-- workspace without a profile key acts on the account's primary profile.
create table workspace_ayrshare_refs (
    workspace_id     uuid primary key references workspaces (id),
    organization_id  uuid not null references organizations (id),
    ref_id           text not null,
    learned_at       timestamptz not null
);

create index workspace_ayrshare_refs_ref on workspace_ayrshare_refs (ref_id);

create table social_connections (
    id                uuid primary key,
    organization_id   uuid not null references organizations (id),
    workspace_id      uuid not null references workspaces (id),
    -- This API's name (`x`, never `twitter`).
    platform          text not null,
    connected         boolean not null,
    account_id        text null,
    account_username  text null,
    account_name      text null,
    profile_url       text null,
    user_image        text null,
    -- When it was last linked (null: never seen linked) and last unlinked.
    linked_at         timestamptz null,
    unlinked_at       timestamptz null,
    -- Why the last change (crate::domain::connection::ChangeReason).
    reason            text null,
    updated_at        timestamptz not null,
    unique (workspace_id, platform)
);

create index social_connections_list
    on social_connections (organization_id, linked_at, id) where connected;

-- The outbox of account events, written in the transaction of each connection change. Its `seq`
-- comes from the post events' own sequence and its `change_xid` is the writing transaction's, as
-- there, so that the feed lists both tables in one order `(change_xid, seq)` with one cursor.
create table account_events (
    seq               bigint primary key default nextval('social_post_events_seq_seq'),
    event_id          text not null unique,
    type              text not null,
    change_xid        bigint not null default (pg_current_xact_id()::text::bigint),
    organization_id   uuid not null,
    workspace_id      uuid not null,
    connection_id     uuid not null,
    platform          text not null,
    connected         boolean not null,
    reason            text not null,
    account_username  text null,
    account_name      text null,
    profile_url       text null,
    user_image        text null,
    linked_at         timestamptz null,
    unlinked_at       timestamptz null,
    -- When the change happened: the event's timestamp, and what retention goes by.
    updated_at        timestamptz not null
);

create index account_events_feed on account_events (organization_id, change_xid, seq);
create index account_events_age on account_events (updated_at);

-- Queued for every endpoint that wants it, in the same transaction, by the post events' own
-- fan-out (it reads only event_id, type, seq, organization_id and workspace_id).
create trigger account_events_fan_out
    after insert on account_events
    for each row execute function webhook_deliveries_fan_out();
