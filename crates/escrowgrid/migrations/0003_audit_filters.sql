-- Indexes for the audit list's resource and time filters (GET /audit-events).
--
-- A resource id is nearly unique, so its events are few: an index on (resource_id, seq) finds
-- them and returns them in write order. Only rows about a resource are indexed (failures such
-- as AUTH_FAILED have none). A time range over every institution (root) is served by
-- occurred_at; a tenant's time range already has idx_audit_events_institution
-- (institution_id, occurred_at) from 0001. A resource type alone matches a large share of the
-- table (six values), where an index would not beat a scan, so it has none.
-- Never edit this file once it has landed: add a new numbered migration instead.

create index idx_audit_events_resource on audit_events (resource_id, seq)
    where resource_id is not null;
create index idx_audit_events_occurred_at on audit_events (occurred_at);
