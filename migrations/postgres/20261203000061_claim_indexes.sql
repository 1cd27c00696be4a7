-- Indexes for a table of years: the reconciler's claim and the changes feed read what is due or
-- changed, not every open record or every record of the organization (issue 21, "Growth";
-- docs/benchmark.md has the plans at 10,000,000 records).

-- The claim (`DUE_RECORD` in src/store/posts.rs) looks each open state up in its own index, in
-- the order it claims, from the oldest entry up to now. One index over all open records served
-- only the `next_check_at` order, so with a million posts scheduled for the months ahead every
-- claim read all of them to find the ten thousand due.
create index scheduled_social_posts_v2_pending_due
    on scheduled_social_posts_v2 (created_at, id)
    where tracked_status = 'pending';
create index scheduled_social_posts_v2_scheduled_due
    on scheduled_social_posts_v2 (coalesce(next_check_at, schedule_date, created_at), id)
    where tracked_status = 'scheduled';
create index scheduled_social_posts_v2_unknown_due
    on scheduled_social_posts_v2 (coalesce(next_check_at, created_at), id)
    where tracked_status = 'unknown';
-- Replaced by the three above: nothing else reads it, and every write to an open record paid
-- for it.
drop index scheduled_social_posts_v2_next_check;

-- `updated_after` (the changes feed) walks the organization's changes in `change_xid` order; a
-- poller asking for the last hour's changes would read the whole year before the first match.
-- With this index the planner can fetch just the records changed since then and sort those.
create index scheduled_social_posts_v2_organization_updated
    on scheduled_social_posts_v2 (organization_id, updated_at);
