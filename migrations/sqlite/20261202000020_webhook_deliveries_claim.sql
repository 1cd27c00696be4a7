-- The claim's walk over an endpoint's due pending deliveries (see the Postgres migration).
create index webhook_deliveries_pending on webhook_deliveries (endpoint_id, next_attempt_at, id)
    where state = 'pending';
