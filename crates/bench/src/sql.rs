//! The PostgreSQL store's write statements for create and transition, as pgbench templates.
//!
//! They mirror the statements of `escrowgrid::store::postgres` (`positions.rs`
//! `INSERT_POSITION`, `ledger.rs` `INSERT_LEDGER`, `audit.rs` `INSERT_AUDIT`, `transition.rs`
//! `UPDATE_POSITION` and `INSERT_EVENT`: same tables, columns and values; new positions start at
//! version 1) with pgbench variables instead of bind parameters: `{pos}` is the position id
//! expression, `{id}` a unique suffix, `:inst`, `:asset` and `:key` come from `pgbench -D`.
//! A test runs the generated script against the migrated schema, so drift fails the build.
//!
//! The ledger inserts are written without the hash chain's columns; [`with_hash`] adds them
//! (`hash`, `previous_hash`: 64 hex characters, computed in the server, so constants here) and
//! [`LAST_HASH`] is the transition's read of its chain head, which the store pipelines with the
//! position load (`ledger.rs` `LAST_HASH`; pgbench sends it as one more round trip, so the
//! hashed script is, if anything, slower than the store).

/// `POST /positions`: position, `POSITION_CREATED` ledger event and audit row.
pub const CREATE: &[&str] = &[
    "insert into positions (id, institution_id, asset_id, holder_reference, currency, amount, \
     state, external_reference, version, created_at, updated_at) \
     values ({pos}, :inst, :asset, 'holder-' || :client_id, 'USD', 1250.5, 'CREATED', null, 1, \
     now(), now())",
    "insert into ledger_events (id, institution_id, kind, position_id, at, previous_state, \
     new_state, payload, created_at) \
     values ('led_c_' || {id}, :inst, 'POSITION_CREATED', {pos}, now(), null, 'CREATED', \
     jsonb_build_object('institutionId', :inst::text, 'assetId', :asset::text, 'currency', 'USD', \
     'amount', 1250.5, 'requestId', 'req_' || {id}), now())",
    "insert into audit_events (id, occurred_at, created_at, request_id, api_key_id, \
     institution_id, method, path, action, outcome, resource_type, resource_id, payload, error, \
     status_code, client_ip) \
     values ('aud_c_' || {id}, now(), now(), 'req_' || {id}, :key, :inst, 'POST', '/positions', \
     'POSITION_CREATED', 'success', 'position', {pos}, \
     jsonb_build_object('institutionId', :inst::text, 'assetId', :asset::text, \
     'holderReference', 'holder-' || :client_id, 'currency', 'USD', 'amount', 1250.5), null, \
     201, '127.0.0.1')",
];

/// The outbox append of `POST /positions` (`store/outbox.rs`, appended by
/// `PgEventLog::append_in` in the same transaction): `position.created` and
/// `ledger_event.recorded` in the institution's stream, payloads of the same shape and size.
pub const CREATE_OUTBOX: &str = "\
insert into gs_events (stream, event_type, correlation_id, payload) values \
('inst:' || :inst, 'position.created', {pos}, jsonb_build_object('id', 'evt_c_' || {id}, \
 'type', 'position.created', 'institutionId', :inst::text, 'occurredAt', now()::text, \
 'data', jsonb_build_object('id', {pos}, 'institutionId', :inst::text, 'assetId', \
 :asset::text, 'holderReference', 'holder-' || :client_id, 'currency', 'USD', 'amount', 1250.5, \
 'state', 'CREATED', 'createdAt', now()::text, 'updatedAt', now()::text, 'events', \
 '[]'::jsonb))), \
('inst:' || :inst, 'ledger_event.recorded', {pos}, jsonb_build_object('id', 'evt_cl_' || {id}, \
 'type', 'ledger_event.recorded', 'institutionId', :inst::text, 'occurredAt', now()::text, \
 'data', jsonb_build_object('id', 'led_c_' || {id}, 'kind', 'POSITION_CREATED', 'positionId', \
 {pos}, 'institutionId', :inst::text, 'at', now()::text, 'newState', 'CREATED', 'payload', \
 jsonb_build_object('institutionId', :inst::text, 'assetId', :asset::text, 'currency', 'USD', \
 'amount', 1250.5))))";

/// The outbox append of the transition: `position.state_changed` (the position with its event)
/// and `ledger_event.recorded`.
pub const TRANSITION_OUTBOX: &str = "\
insert into gs_events (stream, event_type, correlation_id, payload) values \
('inst:' || :inst, 'position.state_changed', {pos}, jsonb_build_object('id', 'evt_t_' || {id}, \
 'type', 'position.state_changed', 'institutionId', :inst::text, 'occurredAt', now()::text, \
 'data', jsonb_build_object('position', jsonb_build_object('id', {pos}, 'institutionId', \
 :inst::text, 'assetId', :asset::text, 'holderReference', 'holder-' || :client_id, 'currency', \
 'USD', 'amount', 1250.5, 'state', 'FUNDED', 'createdAt', now()::text, 'updatedAt', \
 now()::text, 'events', jsonb_build_array(jsonb_build_object('id', 'ple_' || {id}, \
 'positionId', {pos}, 'fromState', 'CREATED', 'toState', 'FUNDED', 'reason', 'loadgen', 'at', \
 now()::text))), 'fromState', 'CREATED', 'toState', 'FUNDED', 'reason', 'loadgen'))), \
('inst:' || :inst, 'ledger_event.recorded', {pos}, jsonb_build_object('id', 'evt_tl_' || {id}, \
 'type', 'ledger_event.recorded', 'institutionId', :inst::text, 'occurredAt', now()::text, \
 'data', jsonb_build_object('id', 'led_t_' || {id}, 'kind', 'POSITION_STATE_CHANGED', \
 'positionId', {pos}, 'institutionId', :inst::text, 'at', now()::text, 'previousState', \
 'CREATED', 'newState', 'FUNDED', 'payload', jsonb_build_object('reason', 'loadgen'))))";

/// `POST /positions/:id/transition` to FUNDED: versioned update, lifecycle event, ledger event
/// and audit row.
pub const TRANSITION: &[&str] = &[
    "update positions set state = 'FUNDED', version = version + 1, updated_at = now() \
     where id = {pos} and institution_id = :inst and version = 1",
    "insert into position_events (id, institution_id, position_id, from_state, to_state, \
     reason, at, metadata, created_at) \
     values ('ple_' || {id}, :inst, {pos}, 'CREATED', 'FUNDED', 'loadgen', now(), null, now())",
    "insert into ledger_events (id, institution_id, kind, position_id, at, previous_state, \
     new_state, payload, created_at) \
     values ('led_t_' || {id}, :inst, 'POSITION_STATE_CHANGED', {pos}, now(), 'CREATED', \
     'FUNDED', jsonb_build_object('reason', 'loadgen'), now())",
    "insert into audit_events (id, occurred_at, created_at, request_id, api_key_id, \
     institution_id, method, path, action, outcome, resource_type, resource_id, payload, error, \
     status_code, client_ip) \
     values ('aud_t_' || {id}, now(), now(), 'req_t_' || {id}, :key, :inst, 'POST', \
     '/positions/' || {pos} || '/transition', 'POSITION_TRANSITIONED', 'success', 'position', \
     {pos}, jsonb_build_object('fromState', 'CREATED', 'toState', 'FUNDED'), null, 200, \
     '127.0.0.1')",
];

/// The transition's read of its position's chain head (`ledger.rs` `LAST_HASH`).
pub const LAST_HASH: &str =
    "select hash from ledger_events where position_id = {pos} order by seq desc limit 1";

/// A ledger insert of [`CREATE`] or [`TRANSITION`] with the hash chain's columns: a 64-hex
/// `hash`, and `previous_hash` when `chained` (a transition follows its creation's event).
/// Other statements are returned unchanged.
pub fn with_hash(statement: &str, chained: bool) -> String {
    const HASH: &str = "'9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'";
    if !statement.starts_with("insert into ledger_events") {
        return statement.to_owned();
    }
    let previous = if chained { HASH } else { "null" };
    statement
        .replacen("created_at)", "created_at, hash, previous_hash)", 1)
        .replacen(", now())", &format!(", now(), {HASH}, {previous})"), 1)
}
