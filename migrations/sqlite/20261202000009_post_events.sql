-- The outbox of post events; see the Postgres migration for why a trigger writes it and why it
-- copies the record. SQLite's writers take turns, so `seq` (taken inside the write) grows in
-- commit order and is the feed's order by itself.
create table social_post_events (
    seq                      integer primary key autoincrement,
    event_id                 text not null unique,
    type                     text not null,
    previous_tracked_status  text null,
    id                       text not null,
    organization_id          text not null,
    workspace_id             text not null,
    api_key_id               text not null,
    post                     text not null,
    platforms                text not null,
    media_urls               text not null,
    schedule_date            text null,
    extra                    text not null default '{}',
    provider_post_id         text null,
    provider_status          text null,
    tracked_status           text not null,
    results                  text not null,
    error                    text null,
    provider_response        text null,
    idempotency_key          text null,
    request_fingerprint      text null,
    stored_answer            text null,
    ayrshare_idempotency_key text null,
    paused                   integer not null,
    overdue_at               text null,
    timezone                 text null,
    created_at               text not null,
    updated_at               text not null
);

create index social_post_events_feed on social_post_events (organization_id, seq);
create index social_post_events_age on social_post_events (updated_at);

create trigger social_post_events_on_insert
    after insert on scheduled_social_posts_v2
    when new.tracked_status <> 'pending'
begin
    insert into social_post_events (
        event_id, type, previous_tracked_status, id, organization_id, workspace_id, api_key_id,
        post, platforms, media_urls, schedule_date, provider_post_id, provider_status,
        tracked_status, results, error, idempotency_key, ayrshare_idempotency_key, paused,
        overdue_at, timezone, created_at, updated_at)
    values (
        'evt_' || lower(hex(randomblob(16))), 'post.' || new.tracked_status, null, new.id,
        new.organization_id, new.workspace_id, new.api_key_id, new.post, new.platforms,
        new.media_urls, new.schedule_date, new.provider_post_id, new.provider_status,
        new.tracked_status, new.results, new.error, new.idempotency_key,
        new.ayrshare_idempotency_key, new.paused, new.overdue_at, new.timezone, new.created_at,
        new.updated_at);
end;

create trigger social_post_events_on_update
    after update on scheduled_social_posts_v2
    -- Back to pending (a retry) is no event: its outcome is.
    when new.tracked_status <> 'pending'
     and (new.tracked_status is not old.tracked_status
          or (new.overdue_at is not null and old.overdue_at is null))
begin
    insert into social_post_events (
        event_id, type, previous_tracked_status, id, organization_id, workspace_id, api_key_id,
        post, platforms, media_urls, schedule_date, provider_post_id, provider_status,
        tracked_status, results, error, idempotency_key, ayrshare_idempotency_key, paused,
        overdue_at, timezone, created_at, updated_at)
    values (
        'evt_' || lower(hex(randomblob(16))),
        case when new.tracked_status is not old.tracked_status
             then 'post.' || new.tracked_status else 'post.overdue' end,
        old.tracked_status, new.id,
        new.organization_id, new.workspace_id, new.api_key_id, new.post, new.platforms,
        new.media_urls, new.schedule_date, new.provider_post_id, new.provider_status,
        new.tracked_status, new.results, new.error, new.idempotency_key,
        new.ayrshare_idempotency_key, new.paused, new.overdue_at, new.timezone, new.created_at,
        new.updated_at);
end;
