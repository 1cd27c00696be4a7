-- See the Postgres migration.
alter table scheduled_social_posts_v2 add column retry_requested_at text null;
