-- Batch save of sessions in one statement (gridstore::session::SessionStore::save_many):
-- atomic and version-checked per item. Returns the new versions in input order. When any
-- item conflicts, raises SQLSTATE GS409 naming the first conflicting item in input order
-- as JSON in DETAIL ({"key", "expected", "actual"}), which rolls the whole call back.
-- The caller passes parallel arrays of equal length with distinct ids.
create function gs_sessions_save_many(
    p_ids      text[],
    p_states   text[],
    p_data     jsonb[],
    p_versions bigint[],
    p_created  timestamptz[],
    p_updated  timestamptz[],
    p_expires  timestamptz[]
) returns bigint[]
language plpgsql
as $$
declare
    v_written bigint[];
    v_first   integer;
    v_actual  bigint;
begin
    -- Lock the stored rows of the batch in id order (new rows are inserted in id order too),
    -- so overlapping batches queue behind each other instead of deadlocking.
    perform 1
       from gs_sessions s
      where s.id = any (p_ids)
      order by s.id
        for update;

    -- Each statement of this function takes a fresh snapshot, so the check below sees the
    -- versions committed by the writers this batch waited for.
    with input as (
        select *
          from unnest(p_ids, p_states, p_data, p_versions, p_created, p_updated, p_expires)
               with ordinality
               as t(id, state, data, version, created_at, updated_at, expires_at, ord)
    ), updated as (
        update gs_sessions s
           set state = i.state, data = i.data, version = s.version + 1,
               created_at = i.created_at, updated_at = i.updated_at,
               expires_at = i.expires_at
          from input i
         where s.id = i.id and i.version > 0 and s.version = i.version
     returning s.id, s.version
    ), inserted as (
        -- A concurrent insert of the same id makes this wait for it, then do nothing: the
        -- item then has no new version and is a conflict.
        insert into gs_sessions as s
               (id, state, data, version, created_at, updated_at, expires_at)
        select i.id, i.state, i.data, 1, i.created_at, i.updated_at, i.expires_at
          from input i
         where i.version = 0
         order by i.id
            on conflict (id) do nothing
     returning s.id, s.version
    )
    select coalesce(array_agg(coalesce(u.version, n.version) order by i.ord), '{}')
      into v_written
      from input i
      left join updated u on u.id = i.id
      left join inserted n on n.id = i.id;

    v_first := array_position(v_written, null);
    if v_first is not null then
        -- A new statement, so a fresh snapshot: the version committed by the writer that won.
        select s.version into v_actual from gs_sessions s where s.id = p_ids[v_first];
        raise exception 'version conflict on session %', p_ids[v_first]
            using errcode = 'GS409',
                  detail = jsonb_build_object(
                      'key', p_ids[v_first],
                      'expected', p_versions[v_first],
                      'actual', v_actual
                  )::text;
    end if;
    return v_written;
end
$$;
