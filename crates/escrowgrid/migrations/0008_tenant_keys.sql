-- Tenant keys (issue 10 item 6): every tenant table is keyed by its distribution column,
-- institution_id, as Citus requires (docs/SCALING.md, "Citus"). On one server the rows, the
-- CHECKs, the append-only ledger triggers and the hash chain are untouched; only keys and
-- indexes change:
--
-- * primary keys become (institution_id, id). asset_templates, assets and positions had both
--   `primary key (id)` and `unique (institution_id, id)` (for the composite foreign keys): the
--   unique constraint becomes the primary key and the key on id a plain index, so they keep
--   the same number of indexes. By-id reads that may not know the tenant (root, and the
--   `($2 is null or institution_id = $2)` statements) use that plain index; it exists where
--   such reads exist: templates, assets, positions, webhooks. The other tables are read by
--   tenant, position, webhook or sequence, never by id alone.
-- * position_events gains institution_id (backfilled from its position) and its foreign key
--   becomes (institution_id, position_id) -> positions; webhook_deliveries references
--   webhooks (institution_id, id). Every foreign key between tenant tables now carries the
--   tenant.
-- * unique (seq) becomes unique (institution_id, seq): seq still comes from one identity
--   sequence, so it still gives the write order; it replaces the (institution_id, seq) index.
--   audit_events keeps a plain index on seq for root's listing in write order; nothing reads
--   the whole ledger in seq order by an index (root's full ledger is read and sorted once).
-- * audit_events.institution_id becomes not null: rows without a tenant (root's actions,
--   failed authentication) store '' (no institution id is empty), and the store reads '' back
--   as "no institution". On Citus they all land in one shard.
-- * api_keys is unchanged: authentication looks a key up by its hash before the tenant is
--   known, so the table is a reference table on Citus (small, written rarely, read on every
--   request), keeping `primary key (id)` and `unique (key_hash)`.
--
-- Constraint names the store maps to errors are kept (<table>_pkey) or renamed with the store
-- (position_events_position_fkey, webhook_deliveries_webhook_fkey).
--
-- Upgrade: one transaction that takes every tenant table's lock first (access exclusive), so
-- writers wait for it, then rebuilds the keys (index builds and foreign key checks scan the
-- tables; position_events and root's audit rows are rewritten). Instances of the previous
-- version cannot record transitions afterwards (their insert into position_events has no
-- institution_id): replace them together with the migration, as the failed writes leave
-- nothing behind.
-- Never edit this file once it has landed: add a new numbered migration instead.

lock table asset_templates, assets, positions, position_events, ledger_events, audit_events,
    institution_policies, webhooks, webhook_deliveries in access exclusive mode;

-- Foreign keys that depend on the keys being replaced go first; they come back below.
alter table assets drop constraint assets_template_fkey;
alter table positions drop constraint positions_asset_fkey;
alter table ledger_events drop constraint ledger_events_position_fkey;
alter table position_events drop constraint position_events_position_id_fkey;
alter table webhook_deliveries drop constraint webhook_deliveries_webhook_id_fkey;

-- Templates, assets, positions: unique (institution_id, id) becomes the primary key.
alter table asset_templates drop constraint asset_templates_pkey;
alter table asset_templates drop constraint asset_templates_institution_id_key;
alter table asset_templates add constraint asset_templates_pkey primary key (institution_id, id);
create index idx_asset_templates_id on asset_templates (id);

alter table assets drop constraint assets_pkey;
alter table assets drop constraint assets_institution_id_key;
alter table assets add constraint assets_pkey primary key (institution_id, id);
create index idx_assets_id on assets (id);

alter table positions drop constraint positions_pkey;
alter table positions drop constraint positions_institution_id_key;
alter table positions add constraint positions_pkey primary key (institution_id, id);
create index idx_positions_id on positions (id);

-- Lifecycle events carry their position's institution.
alter table position_events add column institution_id text collate "C";
update position_events e
   set institution_id = p.institution_id
  from positions p
 where p.id = e.position_id;
alter table position_events alter column institution_id set not null;
alter table position_events drop constraint position_events_pkey;
alter table position_events add constraint position_events_pkey primary key (institution_id, id);

-- The ledger: rows untouched (the append-only triggers stay; no UPDATE is issued).
alter table ledger_events drop constraint ledger_events_pkey;
alter table ledger_events add constraint ledger_events_pkey primary key (institution_id, id);
alter table ledger_events drop constraint ledger_events_seq_key;
alter table ledger_events add constraint ledger_events_institution_id_seq_key
    unique (institution_id, seq);
drop index idx_ledger_events_institution;

-- Audit rows: no tenant is stored as ''.
update audit_events set institution_id = '' where institution_id is null;
alter table audit_events alter column institution_id set not null;
comment on column audit_events.institution_id is
    'the acting institution; '''' when there is none (root''s actions, failed authentication)';
alter table audit_events drop constraint audit_events_pkey;
alter table audit_events add constraint audit_events_pkey primary key (institution_id, id);
alter table audit_events drop constraint audit_events_seq_key;
alter table audit_events add constraint audit_events_institution_id_seq_key
    unique (institution_id, seq);
drop index idx_audit_events_institution_seq;
create index idx_audit_events_seq on audit_events (seq);

alter table institution_policies drop constraint institution_policies_pkey;
alter table institution_policies add constraint institution_policies_pkey
    primary key (institution_id, id);

alter table webhooks drop constraint webhooks_pkey;
alter table webhooks add constraint webhooks_pkey primary key (institution_id, id);
create index idx_webhooks_id on webhooks (id);

alter table webhook_deliveries drop constraint webhook_deliveries_pkey;
alter table webhook_deliveries add constraint webhook_deliveries_pkey
    primary key (institution_id, id);

-- The foreign keys again, each with the tenant (rows that broke one would fail here and roll
-- the whole migration back; the application never wrote such rows).
alter table assets add constraint assets_template_fkey foreign key (institution_id, template_id)
    references asset_templates (institution_id, id);
alter table positions add constraint positions_asset_fkey foreign key (institution_id, asset_id)
    references assets (institution_id, id);
alter table ledger_events add constraint ledger_events_position_fkey
    foreign key (institution_id, position_id) references positions (institution_id, id);
alter table position_events add constraint position_events_position_fkey
    foreign key (institution_id, position_id) references positions (institution_id, id);
alter table webhook_deliveries add constraint webhook_deliveries_webhook_fkey
    foreign key (institution_id, webhook_id) references webhooks (institution_id, id)
    on delete cascade;
