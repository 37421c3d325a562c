-- Versioned sessions with optimistic locking (gridstore::session).
-- Timestamps are the caller's, stored truncated to the millisecond.
create table gs_sessions (
    id         text        primary key,
    state      text        not null
               check (state in ('active', 'paused', 'completed', 'expired', 'closed')),
    data       jsonb       not null,
    version    bigint      not null check (version > 0),
    created_at timestamptz not null,
    updated_at timestamptz not null,
    expires_at timestamptz
);

-- list(state) ordered by updated_at desc, id.
create index gs_sessions_state_updated_idx on gs_sessions (state, updated_at desc, id);
-- list() unfiltered, and clear(older_than) on updated_at.
create index gs_sessions_updated_idx on gs_sessions (updated_at desc, id);
