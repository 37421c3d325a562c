-- Versioned workflow checkpoints (gridstore::checkpoint).

-- One counter row per workflow: saves increment it under its row lock, so concurrent saves
-- get consecutive versions without unique-key retries, and versions are never reused after
-- deletes.
create table gs_checkpoint_heads (
    workflow     text   primary key,
    last_version bigint not null check (last_version > 0)
);

-- The primary key is the (workflow, version) uniqueness and serves every query (latest =
-- backward scan of one workflow).
create table gs_checkpoints (
    workflow   text        not null,
    version    bigint      not null check (version > 0),
    data       jsonb       not null,
    created_at timestamptz not null,
    primary key (workflow, version)
);
