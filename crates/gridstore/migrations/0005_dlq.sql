-- gridstore dead-letter queue.
--
-- status is the stored status; a 'claimed' row whose claimed_until passed reads as 'pending'
-- and is claimable again (visibility timeout, decided by the database clock).

create table gs_dlq (
    id bigint generated always as identity primary key,
    job_id text not null check (job_id <> ''),
    payload jsonb not null,
    error text not null,
    details jsonb not null default 'null',
    retry_count integer not null default 0 check (retry_count >= 0),
    status text not null default 'pending'
        check (status in ('pending', 'claimed', 'resolved', 'ineligible')),
    claimed_by text,
    claimed_until timestamptz,
    failed_at timestamptz not null default date_trunc('milliseconds', now()),
    updated_at timestamptz not null default date_trunc('milliseconds', now())
);

-- Claims scan eligible rows in id order; final rows stay out of this index.
create index gs_dlq_claimable_idx on gs_dlq (id) where status in ('pending', 'claimed');
create index gs_dlq_job_idx on gs_dlq (job_id, id);
create index gs_dlq_failed_at_idx on gs_dlq (failed_at);
