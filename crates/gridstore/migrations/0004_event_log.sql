-- gridstore event log: gs_events, range-partitioned by month of recorded_at from day one.
--
-- Subscription order is (tx_id, seq): tx_id is the writing transaction's xid8, and readers only
-- take rows with tx_id below the oldest running transaction (pg_snapshot_xmin), so a late
-- committer is never skipped. seq comes from a plain sequence and only orders rows within one
-- transaction (and serves as the row identity together with the partition key).

create sequence gs_events_seq as bigint;

create table gs_events (
    seq bigint not null default nextval('gs_events_seq'),
    tx_id xid8 not null default pg_current_xact_id(),
    recorded_at timestamptz not null default date_trunc('milliseconds', now()),
    stream text not null check (stream <> ''),
    event_type text not null check (event_type <> ''),
    correlation_id text,
    payload jsonb not null,
    primary key (seq, recorded_at)
) partition by range (recorded_at);

alter sequence gs_events_seq owned by gs_events.seq;

-- The subscription read: where (tx_id, seq) > cursor and tx_id < fence order by tx_id, seq.
create index gs_events_position_idx on gs_events (tx_id, seq);
-- Queries by stream / type are returned in position order.
create index gs_events_stream_idx on gs_events (stream, tx_id, seq);
create index gs_events_type_idx on gs_events (event_type, tx_id, seq);
create index gs_events_correlation_idx on gs_events (correlation_id)
    where correlation_id is not null;
-- Containment (@>) only: jsonb_path_ops is smaller and about half the write cost of the
-- default jsonb_ops (pg-limits.md). Full-text search has no index on purpose (see
-- postgres/event_log.rs): it runs as a filter over rows narrowed by the other predicates.
create index gs_events_payload_idx on gs_events using gin (payload jsonb_path_ops);

-- Creates the partitions of the current month and the next `months_ahead` months (UTC) that do
-- not exist yet; returns the names it created. Safe to call concurrently.
create function gs_events_ensure_partitions(months_ahead integer)
returns setof text
language plpgsql
as $$
declare
    first_month timestamptz := date_trunc('month', now() at time zone 'utc') at time zone 'utc';
    month_start timestamptz;
    partition_name text;
begin
    if months_ahead < 0 then
        raise exception 'months_ahead must not be negative';
    end if;
    perform pg_advisory_xact_lock(hashtext('gs_events_ensure_partitions'));
    for i in 0..months_ahead loop
        month_start := first_month + make_interval(months => i);
        partition_name := 'gs_events_p' || to_char(month_start at time zone 'utc', 'YYYYMM');
        if to_regclass(partition_name) is null then
            execute format(
                'create table %I partition of gs_events for values from (%L) to (%L)',
                partition_name, month_start, month_start + interval '1 month');
            return next partition_name;
        end if;
    end loop;
end;
$$;

-- Wakes subscribers: one notification per inserting statement, folded by PostgreSQL into one
-- per transaction (same channel, same empty payload). A hint only; readers also poll.
create function gs_events_notify()
returns trigger
language plpgsql
as $$
begin
    perform pg_notify('gs_events', '');
    return null;
end;
$$;

create trigger gs_events_notify
    after insert on gs_events
    for each statement execute function gs_events_notify();

select gs_events_ensure_partitions(3);
