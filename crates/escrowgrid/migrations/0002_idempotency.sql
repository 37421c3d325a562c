-- Stored responses for the API's Idempotency-Key header.
--
-- One row per (scope, key): the scope is chosen by the API (e.g. the caller's api key id or
-- institution plus the route), the key is the client's Idempotency-Key. request_hash detects the
-- same key reused with a different request. Rows expire (24 hours by default); expired rows are
-- invisible to reads and are replaced by the next write, and can be purged in bulk through the
-- expires_at index.
-- Never edit this file once it has landed: add a new numbered migration instead.

create table idempotency_records (
    scope        text not null,
    key          text not null,
    request_hash text not null,
    status       integer not null
        constraint idempotency_records_status_check check (status between 100 and 599),
    body         bytea not null,
    created_at   timestamptz not null,
    expires_at   timestamptz not null,
    constraint idempotency_records_pkey primary key (scope, key),
    constraint idempotency_records_expiry_check check (expires_at > created_at)
);

create index idx_idempotency_records_expires on idempotency_records (expires_at);
