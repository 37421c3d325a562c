-- A create's guard on the policy it was checked against (issue 11, goal 2: each write one
-- round trip, the reads before it folded into it).
--
-- The PostgreSQL store keeps, per (institution, asset), the creation context it last read
-- (the asset's template and the institution's policy for the template's region). The next
-- position of that asset is checked against it and written in one round trip: `BEGIN`, one
-- statement with the position, its ledger event and its audit row, the outbox append and
-- `COMMIT`. That statement calls this function, which raises GS409 (gridstore's version
-- conflict) when the policy is no longer the one the position was checked against, so the
-- whole transaction rolls back; the store then reads the context again and checks anew.
-- Templates and assets never change once created, so the policy is all there is to guard.
-- Never edit this file once it has landed: add a new numbered migration instead.

create function escrowgrid_policy_unchanged(p_institution text, p_region text, p_expected jsonb)
returns boolean
language plpgsql
as $$
begin
    if (select p.config from institution_policies p
        where p.institution_id = p_institution and p.region = p_region)
       is not distinct from p_expected then
        return true;
    end if;
    raise exception 'the policy of % for % changed', p_institution, p_region
        using errcode = 'GS409',
              detail = json_build_object(
                  'key', 'policy/' || p_institution || '/' || p_region,
                  'expected', 0,
                  'actual', null)::text;
end
$$;
