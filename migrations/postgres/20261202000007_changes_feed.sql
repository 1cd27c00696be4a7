-- The changes feed (GET /social/posts?updated_after=...): each record carries the id of the
-- transaction that last changed it, so that a poller can page through changes in an order
-- where nothing committed later ever lands behind its cursor (see `changes` in
-- src/store/postgres/mod.rs, which lists only ids below the oldest running transaction).
--
-- Set by a trigger rather than by each statement: every write that moves `updated_at` is a
-- change the feed must list, and a statement that forgot the column would silently hide one.
-- Records older than this migration keep 0: they come first, by id.
alter table scheduled_social_posts_v2 add column change_xid bigint not null default 0;

create function scheduled_social_posts_v2_change_xid() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' or new.updated_at is distinct from old.updated_at then
        new.change_xid := pg_current_xact_id()::text::bigint;
    end if;
    return new;
end
$$;

create trigger scheduled_social_posts_v2_change_xid
    before insert or update on scheduled_social_posts_v2
    for each row execute function scheduled_social_posts_v2_change_xid();

create index scheduled_social_posts_v2_organization_changes
    on scheduled_social_posts_v2 (organization_id, change_xid, id);
