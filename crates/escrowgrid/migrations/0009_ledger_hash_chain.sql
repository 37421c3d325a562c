-- The tamper-evident ledger (docs/LEDGER.md): every ledger event carries the SHA-256 of its
-- canonical encoding chained to the previous event of the same position.
--
-- Events written before this migration keep hash = null ("before hashing started"): they are
-- not backfilled, because the table is append-only (the trigger rejects UPDATE) and the
-- canonical encoding is computed by the application, not in SQL. Verification counts them as
-- unhashed and starts each such position's chain at its first hashed event, whose
-- previous_hash is null.
alter table ledger_events
    add column hash          text
        constraint ledger_events_hash_check check (hash ~ '^[0-9a-f]{64}$'),
    add column previous_hash text
        constraint ledger_events_previous_hash_check check (previous_hash ~ '^[0-9a-f]{64}$');

comment on column ledger_events.hash is
    'SHA-256 (hex) of the canonical encoding chained to previous_hash; null before hashing started';
