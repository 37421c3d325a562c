-- Webhook endpoints and their deliveries (issue 8).
--
-- * webhooks.secret holds the signing secret as sealed by the application: AES-256-GCM
--   ciphertext (`enc:v1:...`) when WEBHOOKS_SECRET_KEY is set, else the plain `whsec_...` text.
--   No API read selects it; only the dispatcher does.
-- * webhook_deliveries has one row per (endpoint, event): its id is derived from both, so every
--   attempt and every instance update the same row. Rows go with their endpoint.
-- * audit_events gains the webhook actions and the `webhook` resource type (added `not valid`,
--   then validated, so the check of existing rows does not block writers).
-- Never edit this file once it has landed: add a new numbered migration instead.

create table webhooks (
    id             text collate "C" primary key,
    institution_id text collate "C" not null references institutions (id),
    url            text not null constraint webhooks_url_check check (url ~ '^https?://'),
    event_types    text[] not null constraint webhooks_event_types_check
        check (cardinality(event_types) > 0),
    description    text,
    enabled        boolean not null,
    secret         text not null,
    created_at     timestamptz not null,
    updated_at     timestamptz not null
);

create index idx_webhooks_institution on webhooks (institution_id, created_at, id);
create index idx_webhooks_enabled on webhooks (created_at, id) where enabled;

create table webhook_deliveries (
    id               text collate "C" primary key,
    webhook_id       text collate "C" not null references webhooks (id) on delete cascade,
    institution_id   text collate "C" not null,
    event_id         text not null,
    event_type       text not null,
    status           text not null
        constraint webhook_deliveries_status_check
        check (status in ('pending', 'succeeded', 'failed', 'redriving')),
    attempts         integer not null constraint webhook_deliveries_attempts_check
        check (attempts >= 0),
    last_status_code integer,
    last_error       text,
    next_attempt_at  timestamptz,
    dlq_item_id      bigint,
    created_at       timestamptz not null,
    updated_at       timestamptz not null
);

create index idx_webhook_deliveries_webhook on webhook_deliveries (webhook_id, created_at desc, id);

alter table audit_events drop constraint audit_events_action_check;
alter table audit_events add constraint audit_events_action_check
    check (action in (
        'INSTITUTION_CREATED', 'API_KEY_CREATED', 'API_KEY_REVOKED',
        'ASSET_TEMPLATE_CREATED', 'ASSET_CREATED', 'POSITION_CREATED',
        'POSITION_TRANSITIONED', 'POLICY_UPDATED',
        'AUTH_FAILED', 'AUTH_FORBIDDEN', 'VALIDATION_FAILED', 'RATE_LIMITED',
        'RESOURCE_NOT_FOUND', 'CONCURRENCY_CONFLICT',
        'ONCHAIN_LEDGER_FAILED', 'ONCHAIN_LEDGER_RETRY_EXHAUSTED',
        'WEBHOOK_CREATED', 'WEBHOOK_UPDATED', 'WEBHOOK_DELETED', 'WEBHOOK_SECRET_ROTATED',
        'WEBHOOK_DELIVERY_FAILED', 'WEBHOOK_DELIVERY_REDRIVEN'
    )) not valid;
alter table audit_events validate constraint audit_events_action_check;
alter table audit_events drop constraint audit_events_resource_type_check;
alter table audit_events add constraint audit_events_resource_type_check
    check (resource_type in (
        'institution', 'api_key', 'asset_template', 'asset', 'position', 'policy', 'webhook'
    )) not valid;
alter table audit_events validate constraint audit_events_resource_type_check;
