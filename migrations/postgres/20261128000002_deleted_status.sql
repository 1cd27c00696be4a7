-- `deleted`: a published post deleted (through this API or at Ayrshare), beside `cancelled` (a
-- post that never went out). Only widens the check: every stored row stays valid.
alter table scheduled_social_posts_v2
    drop constraint scheduled_social_posts_v2_tracked_status_check;
alter table scheduled_social_posts_v2
    add constraint scheduled_social_posts_v2_tracked_status_check
    check (tracked_status in ('pending', 'scheduled', 'posted', 'partial', 'failed', 'unknown', 'cancelled', 'deleted'));
