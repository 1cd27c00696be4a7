-- The reconciler's bookkeeping on each record (docs/reconciler.md).

-- When the reconciler may look at the record next: null means "as soon as it is due". A claim
-- pushes it forward (a lease), so that two replicas never work one record at once.
alter table scheduled_social_posts_v2 add column next_check_at timestamptz null;
-- How many times the reconciler has asked Ayrshare about the record: drives the backoff, and
-- bounds the history lookups of a record that has no post id.
alter table scheduled_social_posts_v2 add column check_attempts integer not null default 0;
-- When the reconciler first saw a scheduled post still unpublished well after its time.
alter table scheduled_social_posts_v2 add column overdue_at timestamptz null;

-- What the reconciler claims from: open records by their next check.
create index scheduled_social_posts_v2_next_check
    on scheduled_social_posts_v2 (next_check_at)
    where tracked_status in ('pending', 'unknown', 'scheduled');
