-- A failed post may be retried once through Ayrshare's `PUT /post/retry`
-- (`POST /social/post/{post_id}/retry`): when that retry was written, before Ayrshare was asked.
-- Set, a second retry is refused; a retry Ayrshare refused clears it again (nothing was sent).
alter table scheduled_social_posts_v2 add column retry_requested_at timestamptz null;
