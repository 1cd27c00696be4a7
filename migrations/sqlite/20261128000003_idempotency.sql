-- Idempotency keys live on the tracking record itself: claiming a key IS the write-ahead insert
-- (one statement, one commit), and the answer replayed to retries is written by the same update
-- that records the outcome. No extra table, no extra commit on the request's path.

-- The Idempotency-Key header as the caller sent it; kept for good, shown on the track answer.
alter table scheduled_social_posts_v2 add column idempotency_key text null;
-- The live claim on that key: the same text while the key is retained, null once purged, so
-- that an expired key may be used again while the record still shows it.
alter table scheduled_social_posts_v2 add column idempotency_claim text null;
-- SHA-256 of the parsed request and the workspace: the same key with another request is refused.
alter table scheduled_social_posts_v2 add column request_fingerprint text null;
-- The first answer (status class and body, as the service's own typed answer), replayed to retries.
alter table scheduled_social_posts_v2 add column stored_answer text null check (stored_answer is null or json_valid(stored_answer));
-- The idempotencyKey sent to Ayrshare with the post (derived from the id, or the caller's own).
alter table scheduled_social_posts_v2 add column ayrshare_idempotency_key text null;

-- The claim: atomic across every replica sharing this database.
create unique index scheduled_social_posts_v2_idempotency_claim
    on scheduled_social_posts_v2 (organization_id, idempotency_claim)
    where idempotency_claim is not null;
-- What the purge scans: live claims by age.
create index scheduled_social_posts_v2_claims_by_age
    on scheduled_social_posts_v2 (created_at)
    where idempotency_claim is not null;
