-- Cheaper deliveries (issue 21, target 4): every event queued costs index entries in the create's
-- own transaction, and every claim rewrites the row, so the queue's upkeep is paid by the write
-- path it shares the database with.
--
-- 1. webhook_deliveries_due (next_attempt_at, pending only) serves no query on Postgres any more:
--    the claim walks webhook_deliveries_pending (endpoint_id, next_attempt_at, id, pending only)
--    per endpoint, and the backlog count reads that one as well. Dropping it saves one index
--    entry per queued event and one per non-HOT update of a pending row.
-- 2. (No fillfactor change: a claim changes only lease_until and lease_token, which no index
--    covers, and was already a HOT update about 9 times in 10 with the default fillfactor, the
--    row's page still having room soon after its insert; fillfactor 50 measured the same, 87 %
--    against 89 %, for twice the pages.)
drop index if exists webhook_deliveries_due;

-- 3. The foreign keys of the queue and the log cost a lookup and a row lock (FOR KEY SHARE) of
--    the referenced row for every row inserted: for every event queued, a lock of the endpoint's
--    row taken by every create transaction at once (with many, a MultiXact each time: measured
--    at 12 % fewer transactions/s at 64 clients on this machine), and for every attempt logged,
--    locks of its delivery and its endpoint. What they guarded is done by the statements that
--    write and delete those rows instead (src/store/postgres/{endpoints,deliveries}.rs):
--    - deleting an endpoint deletes its attempts and deliveries in the same transaction (the
--      cascades did that);
--    - the purge deletes the attempts of the deliveries it deletes (the cascade did that), and
--      the pending deliveries of endpoints deleted meanwhile that a create committing beside the
--      deletion may have queued (a row the fan-out trigger read the endpoint for just before the
--      deletion committed: no worker ever claims it, since claims start from the endpoints);
--    - an attempt is logged only for a delivery that is still there.
--    SQLite keeps its foreign keys: one process, no lock contention of this kind.
alter table webhook_deliveries drop constraint if exists webhook_deliveries_endpoint_id_fkey;
alter table webhook_attempts drop constraint if exists webhook_attempts_delivery_id_fkey;
alter table webhook_attempts drop constraint if exists webhook_attempts_endpoint_id_fkey;
