-- Indexes for keyset pages (`cursor`, issue 11): every list filter leads an index that ends
-- with the list's order, so `where <filter> and (created_at, id) > (key) order by created_at,
-- id limit n` (entities) or `... and seq > key order by seq` (audit) starts at the key and
-- reads only the page, at any depth.
--
-- Already served since 0001: positions, assets and templates per institution
-- (institution_id, created_at, id) and unfiltered (created_at, id); audit events per
-- institution (institution_id, seq), per resource (0003: resource_id, seq) and unfiltered
-- (the seq key); webhook deliveries per endpoint (0006: webhook_id, created_at desc, id).
-- Added here: positions per asset and per holder reference, assets per template, audit events
-- per API key. The single-column indexes they replace (asset_id, holder_reference,
-- template_id) are dropped: the new ones serve the same equality lookups.
-- A second filter (say asset and holder) reads the first filter's index from the key on and
-- checks the other on each row.
-- Never edit this file once it has landed: add a new numbered migration instead.

create index idx_positions_asset_created on positions (asset_id, created_at, id);
drop index idx_positions_asset;
create index idx_positions_holder_created on positions (holder_reference, created_at, id);
drop index idx_positions_holder_reference;
create index idx_assets_template_created on assets (template_id, created_at, id);
drop index idx_assets_template;
create index idx_audit_events_api_key_seq on audit_events (api_key_id, seq)
    where api_key_id is not null;
