-- The IANA time zone a post's schedule_date was given in (`timezone` on the create and on
-- PATCH's reschedule): kept so the track answer can say it, never sent to Ayrshare, which
-- takes UTC only. Null for records older than this migration and for posts given without one.
alter table scheduled_social_posts_v2 add column timezone text;
