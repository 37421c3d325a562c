-- EscrowGrid schema, version 1.
--
-- The tables of the original service (seed 000) with its defects fixed:
--   * every enum is text guarded by a CHECK constraint, amounts are NUMERIC(32,8) and > 0;
--   * composite foreign keys tie a template's, an asset's and a position's institution together,
--     so a row can never point at another tenant's row;
--   * audit_events has every column the application writes (request id, outcome, status code,
--     error, client ip) and no foreign key, so audit rows survive anything;
--   * positions carry a version for optimistic locking;
--   * ids compare in byte order (collate "C"), so "created_at, then id" orders like the memory
--     store; append-only tables (lifecycle, ledger, audit) carry a seq giving their write order;
--   * ledger_events carries its institution and rejects UPDATE, DELETE and TRUNCATE by trigger.
-- Foreign keys do not cascade: there is no delete API, and deleting a position would have to
-- delete immutable ledger rows.
-- Never edit this file once it has landed: add a new numbered migration instead.

create table institutions (
    id         text collate "C" primary key,
    name       text not null check (length(name) > 0),
    regions    text[] not null
        constraint institutions_regions_check
        check (regions <@ array['US', 'EU_UK', 'SG', 'UAE']::text[]),
    verticals  text[] not null
        constraint institutions_verticals_check
        check (verticals <@ array['CONSTRUCTION', 'TRADE_FINANCE']::text[]),
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create index idx_institutions_created on institutions (created_at, id);

create table asset_templates (
    id             text collate "C" primary key,
    institution_id text collate "C" not null references institutions (id),
    code           text not null
        constraint asset_templates_code_check
        check (code in ('CONSTR_ESCROW', 'CONSTR_RETAINAGE', 'TF_INVOICE', 'TF_LC')),
    name           text not null,
    vertical       text not null
        constraint asset_templates_vertical_check
        check (vertical in ('CONSTRUCTION', 'TRADE_FINANCE')),
    region         text not null
        constraint asset_templates_region_check
        check (region in ('US', 'EU_UK', 'SG', 'UAE')),
    config         jsonb not null
        constraint asset_templates_config_check
        check (jsonb_typeof(config) = 'object'),
    created_at     timestamptz not null,
    updated_at     timestamptz not null,
    constraint asset_templates_code_vertical_check check (
        (vertical = 'CONSTRUCTION' and code in ('CONSTR_ESCROW', 'CONSTR_RETAINAGE'))
        or (vertical = 'TRADE_FINANCE' and code in ('TF_INVOICE', 'TF_LC'))
    ),
    constraint asset_templates_institution_id_key unique (institution_id, id)
);

-- Seed 000: idx_asset_templates_institution (institution_id); created_at/id serve the listing order.
create index idx_asset_templates_institution on asset_templates (institution_id, created_at, id);
create index idx_asset_templates_created on asset_templates (created_at, id);

create table assets (
    id             text collate "C" primary key,
    institution_id text collate "C" not null references institutions (id),
    template_id    text collate "C" not null,
    label          text not null,
    metadata       jsonb not null
        constraint assets_metadata_check
        check (jsonb_typeof(metadata) = 'object'),
    created_at     timestamptz not null,
    updated_at     timestamptz not null,
    constraint assets_template_fkey foreign key (institution_id, template_id)
        references asset_templates (institution_id, id),
    constraint assets_institution_id_key unique (institution_id, id)
);

create index idx_assets_institution on assets (institution_id, created_at, id);
create index idx_assets_template on assets (template_id);
create index idx_assets_created on assets (created_at, id);

create table positions (
    id                 text collate "C" primary key,
    institution_id     text collate "C" not null references institutions (id),
    asset_id           text collate "C" not null,
    holder_reference   text not null,
    currency           text not null
        constraint positions_currency_check
        check (currency in (
            'USD', 'EUR', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD', 'NZD', 'CNY', 'HKD', 'SGD',
            'INR', 'MXN', 'BRL', 'ZAR', 'AED', 'SAR', 'KRW', 'TWD', 'THB', 'MYR', 'IDR',
            'PHP', 'VND', 'PLN', 'SEK', 'NOK', 'DKK', 'CZK', 'HUF', 'ILS', 'TRY'
        )),
    amount             numeric(32, 8) not null
        constraint positions_amount_check check (amount > 0 and amount <= 1000000000000000),
    state              text not null
        constraint positions_state_check
        check (state in (
            'CREATED', 'FUNDED', 'PARTIALLY_RELEASED', 'RELEASED', 'CANCELLED', 'EXPIRED'
        )),
    external_reference text,
    version            bigint not null
        constraint positions_version_check check (version >= 1),
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    constraint positions_asset_fkey foreign key (institution_id, asset_id)
        references assets (institution_id, id),
    constraint positions_institution_id_key unique (institution_id, id)
);

-- Seed 000: idx_positions_institution, idx_positions_asset, idx_positions_holder_reference.
-- The institution index also serves the paginated listing (created_at, id order).
create index idx_positions_institution on positions (institution_id, created_at, id);
create index idx_positions_asset on positions (asset_id);
create index idx_positions_holder_reference on positions (holder_reference);
create index idx_positions_created on positions (created_at, id);

create table position_events (
    id          text collate "C" primary key,
    seq         bigint generated always as identity,
    position_id text collate "C" not null references positions (id),
    from_state  text
        constraint position_events_from_state_check
        check (from_state in (
            'CREATED', 'FUNDED', 'PARTIALLY_RELEASED', 'RELEASED', 'CANCELLED', 'EXPIRED'
        )),
    to_state    text not null
        constraint position_events_to_state_check
        check (to_state in (
            'CREATED', 'FUNDED', 'PARTIALLY_RELEASED', 'RELEASED', 'CANCELLED', 'EXPIRED'
        )),
    reason      text,
    at          timestamptz not null,
    metadata    jsonb,
    created_at  timestamptz not null
);

-- Seed 000: idx_position_events_position (position_id), extended with the write order.
create index idx_position_events_position on position_events (position_id, seq);

create table ledger_events (
    id             text collate "C" primary key,
    seq            bigint generated always as identity
        constraint ledger_events_seq_key unique,
    institution_id text collate "C" not null,
    kind           text not null
        constraint ledger_events_kind_check
        check (kind in ('POSITION_CREATED', 'POSITION_STATE_CHANGED')),
    position_id    text collate "C" not null,
    at             timestamptz not null,
    previous_state text
        constraint ledger_events_previous_state_check
        check (previous_state in (
            'CREATED', 'FUNDED', 'PARTIALLY_RELEASED', 'RELEASED', 'CANCELLED', 'EXPIRED'
        )),
    new_state      text
        constraint ledger_events_new_state_check
        check (new_state in (
            'CREATED', 'FUNDED', 'PARTIALLY_RELEASED', 'RELEASED', 'CANCELLED', 'EXPIRED'
        )),
    payload        jsonb,
    created_at     timestamptz not null,
    constraint ledger_events_position_fkey foreign key (institution_id, position_id)
        references positions (institution_id, id)
);

-- Seed 000: idx_ledger_events_position (position_id), extended with the write order.
create index idx_ledger_events_position on ledger_events (position_id, seq);
create index idx_ledger_events_institution on ledger_events (institution_id, seq);

-- The ledger is append-only. REVOKE is not enough (the table owner bypasses it): a trigger is
-- the real guard, for rows (UPDATE, DELETE) and for the whole table (TRUNCATE).
create function escrowgrid_ledger_events_immutable() returns trigger
language plpgsql as $$
begin
    raise exception 'ledger_events is append-only: % is not allowed', tg_op
        using errcode = 'restrict_violation';
end;
$$;

create trigger ledger_events_no_update_delete
    before update or delete on ledger_events
    for each row execute function escrowgrid_ledger_events_immutable();

create trigger ledger_events_no_truncate
    before truncate on ledger_events
    for each statement execute function escrowgrid_ledger_events_immutable();

create table api_keys (
    id             text collate "C" primary key,
    institution_id text collate "C" not null references institutions (id),
    key_hash       text not null
        constraint api_keys_key_hash_check check (key_hash ~ '^[0-9a-f]{64}$'),
    label          text not null,
    role           text not null
        constraint api_keys_role_check check (role in ('admin', 'read_only')),
    created_at     timestamptz not null,
    revoked_at     timestamptz,
    constraint api_keys_key_hash_key unique (key_hash)
);

-- Seed 000: idx_api_keys_institution (institution_id), extended with the listing order.
create index idx_api_keys_institution on api_keys (institution_id, created_at, id);

create table audit_events (
    id             text collate "C" primary key,
    seq            bigint generated always as identity
        constraint audit_events_seq_key unique,
    occurred_at    timestamptz not null,
    created_at     timestamptz not null,
    request_id     text,
    api_key_id     text collate "C",
    institution_id text collate "C",
    method         text not null,
    path           text not null,
    action         text not null
        constraint audit_events_action_check
        check (action in (
            'INSTITUTION_CREATED', 'API_KEY_CREATED', 'API_KEY_REVOKED',
            'ASSET_TEMPLATE_CREATED', 'ASSET_CREATED', 'POSITION_CREATED',
            'POSITION_TRANSITIONED', 'POLICY_UPDATED',
            'AUTH_FAILED', 'AUTH_FORBIDDEN', 'VALIDATION_FAILED', 'RATE_LIMITED',
            'RESOURCE_NOT_FOUND', 'CONCURRENCY_CONFLICT', 'ONCHAIN_LEDGER_FAILED',
            'ONCHAIN_LEDGER_RETRY_EXHAUSTED'
        )),
    outcome        text not null
        constraint audit_events_outcome_check check (outcome in ('success', 'failure')),
    resource_type  text
        constraint audit_events_resource_type_check
        check (resource_type in (
            'institution', 'api_key', 'asset_template', 'asset', 'position', 'policy'
        )),
    resource_id    text,
    payload        jsonb,
    error          jsonb,
    status_code    integer
        constraint audit_events_status_code_check check (status_code between 100 and 599),
    client_ip      text
);

-- Seed 000: idx_audit_events_institution, idx_audit_events_api_key (time-range queries).
create index idx_audit_events_institution on audit_events (institution_id, occurred_at);
create index idx_audit_events_api_key on audit_events (api_key_id, occurred_at);
-- Listings page through a tenant's events in write order.
create index idx_audit_events_institution_seq on audit_events (institution_id, seq);

create table institution_policies (
    id             text collate "C" primary key,
    institution_id text collate "C" not null references institutions (id),
    region         text not null
        constraint institution_policies_region_check
        check (region in ('US', 'EU_UK', 'SG', 'UAE')),
    config         jsonb not null
        constraint institution_policies_config_check
        check (jsonb_typeof(config) = 'object'),
    created_at     timestamptz not null,
    updated_at     timestamptz not null,
    constraint institution_policies_institution_id_region_key unique (institution_id, region)
);

-- The original's idx_institution_policies_institution (institution_id) is covered by the
-- unique (institution_id, region) index, so it is not created.
