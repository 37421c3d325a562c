-- Reservations of idempotency keys, so that instances sharing the database run a request
-- with a given key once.
--
-- A row is now either a reservation (status and body null: a request with request_hash is
-- running; expires_at is the end of a short lease, so a crashed instance's reservation frees
-- itself) or a completed record (status and body set; expires_at 24 hours after created_at).
-- An expired row of either kind is taken over by the next reservation (insert ... on conflict
-- do update ... where expires_at <= now), so no sweeper is needed for correctness; the
-- expires_at index from 0002 serves bulk purges.
-- Never edit this file once it has landed: add a new numbered migration instead.

alter table idempotency_records
    alter column status drop not null,
    alter column body drop not null,
    add constraint idempotency_records_state_check check ((status is null) = (body is null));
