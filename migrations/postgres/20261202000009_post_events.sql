-- The outbox of post events (docs/events.md): one row for every committed change of a record's
-- tracked_status, and for its overdue flag, written by a trigger in the transaction of the change
-- itself. So an event exists for every committed change, whatever statement made it, and for no
-- other: a change that rolls back takes its event with it, and no second commit is added to the
-- write path.
--
-- The row keeps the record as it was right after the change, in the columns the tracking record
-- is read from (TRACKING_COLUMNS), so that an event's data is rendered by the same code as the
-- track answer. The internal columns that answer never shows (the forwarded extras, Ayrshare's raw
-- answer, the kept replay) are not copied. A column added to the record and to the track answer
-- must be added here and to the trigger too.
create table social_post_events (
    -- The order in which events were written within one transaction.
    seq                      bigserial primary key,
    event_id                 text not null unique,
    type                     text not null,
    -- The transaction that wrote it: the feed lists events in this order, only below the oldest
    -- transaction still running (as the changes feed does, src/store/postgres/mod.rs).
    change_xid               bigint not null default (pg_current_xact_id()::text::bigint),
    previous_tracked_status  text null,
    id                       uuid not null,
    organization_id          uuid not null,
    workspace_id             uuid not null,
    api_key_id               uuid not null,
    post                     text not null,
    platforms                text[] not null,
    media_urls               text[] not null,
    schedule_date            timestamptz null,
    extra                    jsonb not null default '{}',
    provider_post_id         text null,
    provider_status          text null,
    tracked_status           text not null,
    results                  jsonb not null,
    error                    jsonb null,
    provider_response        jsonb null,
    idempotency_key          text null,
    request_fingerprint      text null,
    stored_answer            jsonb null,
    ayrshare_idempotency_key text null,
    paused                   boolean not null,
    overdue_at               timestamptz null,
    timezone                 text null,
    created_at               timestamptz not null,
    -- When the change happened: the event's timestamp.
    updated_at               timestamptz not null
);

create index social_post_events_feed on social_post_events (organization_id, change_xid, seq);
-- Retention deletes the oldest first.
create index social_post_events_age on social_post_events (updated_at);

create function social_post_events_record() returns trigger
language plpgsql as $$
declare
    kind text;
    previous text;
begin
    if tg_op = 'INSERT' then
        -- A create writes a pending record; pending is no event (its outcome is).
        if new.tracked_status = 'pending' then
            return null;
        end if;
        kind := 'post.' || new.tracked_status;
    elsif new.tracked_status = 'pending' then
        -- Back to pending (a retry): its outcome is the event.
        return null;
    elsif new.tracked_status is distinct from old.tracked_status then
        kind := 'post.' || new.tracked_status;
        previous := old.tracked_status;
    elsif new.overdue_at is not null and old.overdue_at is null then
        kind := 'post.overdue';
        previous := old.tracked_status;
    else
        return null;
    end if;
    insert into social_post_events (
        event_id, type, previous_tracked_status, id, organization_id, workspace_id, api_key_id,
        post, platforms, media_urls, schedule_date, provider_post_id, provider_status,
        tracked_status, results, error, idempotency_key, ayrshare_idempotency_key, paused,
        overdue_at, timezone, created_at, updated_at)
    values (
        'evt_' || replace(gen_random_uuid()::text, '-', ''), kind, previous, new.id,
        new.organization_id, new.workspace_id, new.api_key_id, new.post, new.platforms,
        new.media_urls, new.schedule_date, new.provider_post_id, new.provider_status,
        new.tracked_status, new.results, new.error, new.idempotency_key,
        new.ayrshare_idempotency_key, new.paused, new.overdue_at, new.timezone, new.created_at,
        new.updated_at);
    return null;
end
$$;

create trigger social_post_events_record
    after insert or update on scheduled_social_posts_v2
    for each row execute function social_post_events_record();
