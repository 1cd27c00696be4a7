-- The claim of the delivery workers reads each enabled endpoint's due pending deliveries, oldest
-- due first, a few at a time (a per-endpoint cap, so that one endpoint's backlog cannot take
-- every slot): this index serves that walk without reading the endpoint's delivered history.
create index webhook_deliveries_pending on webhook_deliveries (endpoint_id, next_attempt_at, id)
    where state = 'pending';
