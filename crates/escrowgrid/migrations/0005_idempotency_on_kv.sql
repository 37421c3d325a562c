-- Idempotency keys move to gridstore's KV table (gs_kv, created by gridstore's migrations,
-- which EscrowGrid applies first): key 'idem:<scope>:<key>', value
-- {"state":"completed","requestHash":..,"status":..,"body":..} with the record's own expiry.
-- The escrow-specific table goes.
--
-- Upgrades while old instances still serve (rolling deploys): a key must never execute twice.
-- 1. The table is locked first (access exclusive): from here on no old instance can reserve,
--    complete or release a key until this transaction ends; afterwards the table is gone and
--    an old instance's keyed POST fails (5xx) instead of running unprotected.
-- 2. If any reservation is still live (a request with a key is running on an old instance),
--    the migration REFUSES (SQLSTATE 55000) and changes nothing: that request could not store
--    its response any more, and once its reservation expired a retry would run it again.
--    Reservations last one lease (60 s, or twice the request timeout): run the migration again
--    (restart the instance, or `escrowgrid migrate`) once old instances stopped taking keyed
--    POSTs, or simply a moment later.
-- 3. Completed responses still replayable are copied with their exact expiry, so replays keep
--    working across the upgrade. Expired rows are dropped.
-- Never edit this file once it has landed: add a new numbered migration instead.

lock table idempotency_records in access exclusive mode;

do $$
declare
    in_flight bigint;
begin
    select count(*) into in_flight
      from idempotency_records
     where status is null and expires_at > now();
    if in_flight > 0 then
        raise exception using
            errcode = 'object_not_in_prerequisite_state',
            message = format('%s idempotency reservation(s) in flight on instances of the '
                             'previous version; migration 0005 refused so that no request '
                             'runs twice', in_flight),
            hint = 'retry once the previous version stopped serving keyed POST requests '
                   '(a reservation lasts at most its lease, 60 s by default)';
    end if;
end
$$;

insert into gs_kv (key, value, expires_at, updated_at)
select 'idem:' || scope || ':' || key,
       jsonb_build_object(
           'state', 'completed',
           'requestHash', request_hash,
           'status', status,
           'body', convert_from(body, 'UTF8')),
       expires_at,
       now()
  from idempotency_records
 where status is not null and expires_at > now()
    on conflict (key) do nothing;

drop table idempotency_records;
