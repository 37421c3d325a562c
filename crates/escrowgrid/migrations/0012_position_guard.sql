-- A transition's guard on the version it read (issue 11, goal 2: each write one round trip).
--
-- The PostgreSQL store first tries a transition without a transaction block: one statement
-- reads the position, its lifecycle events and the head of its ledger chain (one snapshot,
-- no lock); the lifecycle rules run in the application; then one statement writes the
-- position (`update ... where version = <read>`), its lifecycle event, its ledger event, its
-- audit row and its outbox events, and PostgreSQL commits it on its own. That statement calls
-- this function with the number of positions its update matched: zero means that another
-- transition committed since the read (the update waits for a concurrent one and then sees
-- its version), so the function raises GS409 (gridstore's version conflict), nothing of the
-- statement stays, and the store does the transition again with the row locked.
-- Never edit this file once it has landed: add a new numbered migration instead.

create function escrowgrid_position_unchanged(p_updated bigint, p_position text)
returns boolean
language plpgsql
as $$
begin
    if p_updated = 1 then
        return true;
    end if;
    raise exception 'position % changed since it was read', p_position
        using errcode = 'GS409',
              detail = json_build_object(
                  'key', 'position/' || p_position,
                  'expected', 0,
                  'actual', null)::text;
end
$$;
