-- The changes feed (see the Postgres migration). SQLite has one writer at a time, so a number
-- taken inside the writing transaction, one past the largest so far, grows in commit order;
-- the triggers take it for every insert and for every update that moves `updated_at`.
-- Records older than this migration keep 0: they come first, by id.
alter table scheduled_social_posts_v2 add column change_xid integer not null default 0;

-- The largest number so far, found from this index's last entry.
create index scheduled_social_posts_v2_changes on scheduled_social_posts_v2 (change_xid);
create index scheduled_social_posts_v2_organization_changes
    on scheduled_social_posts_v2 (organization_id, change_xid, id);

create trigger scheduled_social_posts_v2_change_on_insert
    after insert on scheduled_social_posts_v2
begin
    update scheduled_social_posts_v2
       set change_xid = (select coalesce(max(change_xid), 0) + 1 from scheduled_social_posts_v2)
     where id = new.id;
end;

create trigger scheduled_social_posts_v2_change_on_update
    after update of updated_at on scheduled_social_posts_v2
    when new.updated_at is not old.updated_at
begin
    update scheduled_social_posts_v2
       set change_xid = (select coalesce(max(change_xid), 0) + 1 from scheduled_social_posts_v2)
     where id = new.id;
end;
