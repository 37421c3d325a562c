-- gridstore leases: one row per key; fencing tokens from a sequence so they keep increasing
-- across grants, keys and clean server restarts.

create sequence gs_lease_tokens as bigint;

create table gs_leases (
    key text primary key check (key <> ''),
    holder text not null check (holder <> ''),
    fencing_token bigint not null,
    acquired_at timestamptz not null,
    expires_at timestamptz not null
);

create index gs_leases_expires_at_idx on gs_leases (expires_at);
