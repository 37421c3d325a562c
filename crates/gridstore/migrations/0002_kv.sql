-- Key-value with per-key TTL (gridstore::kv). Reads hide rows whose expires_at has passed;
-- a sweeper deletes them in batches.
create table gs_kv (
    key        text        primary key,
    value      jsonb       not null,
    expires_at timestamptz,
    updated_at timestamptz not null default now()
);

-- The sweeper and the expired-pending count look up expired rows only.
create index gs_kv_expires_idx on gs_kv (expires_at) where expires_at is not null;
