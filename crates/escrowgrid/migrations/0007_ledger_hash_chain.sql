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

-- Commit order for checkpoints: the writing transaction's id. seq is write order, not commit
-- order (a transaction holding seq 10 may commit after one holding seq 11), so checkpoints
-- cover the events whose tx is below the oldest running transaction
-- (pg_snapshot_xmin(pg_current_snapshot())): every such transaction has ended, so no event can
-- still appear below the fence. Existing rows get this migration's transaction id.
alter table ledger_events
    add column tx xid8 not null default pg_current_xact_id();
create index idx_ledger_events_tx on ledger_events (tx, seq);

-- Periodic checkpoints (docs/LEDGER.md): each covers the events with
-- previous fence <= tx < fence, hashed in (tx, seq) order, chained to the previous checkpoint.
-- onchain is reserved for anchoring the hash on chain (not built yet).
create table ledger_checkpoints (
    number        bigint primary key
        constraint ledger_checkpoints_number_check check (number >= 1),
    created_at    timestamptz not null,
    fence         bigint not null,
    event_count   bigint not null
        constraint ledger_checkpoints_event_count_check check (event_count >= 1),
    events_root   text not null,
    previous_hash text,
    hash          text not null,
    onchain       jsonb
);
