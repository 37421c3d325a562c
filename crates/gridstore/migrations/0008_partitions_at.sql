-- Partition maintenance at an explicit instant.
--
-- gs_events_ensure_partitions(months_ahead, at) creates the partitions of the month of `at`
-- (UTC) and the next `months_ahead` months. The one-argument form keeps its meaning ("now", by
-- the database clock) and now delegates, so the month is decided by one reading of one clock.
-- Callers that reason about months (tests, maintenance run at a chosen instant) pass `at`.

create function gs_events_ensure_partitions(months_ahead integer, at timestamptz)
returns setof text
language plpgsql
as $$
declare
    first_month timestamptz := date_trunc('month', at at time zone 'utc') at time zone 'utc';
    month_start timestamptz;
    partition_name text;
begin
    if months_ahead < 0 then
        raise exception 'months_ahead must not be negative';
    end if;
    if at is null then
        raise exception 'at must not be null';
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

create or replace function gs_events_ensure_partitions(months_ahead integer)
returns setof text
language sql
as $$
    select gs_events_ensure_partitions(months_ahead, now());
$$;
