//! Rows to domain values. Columns are read by name; the statements select them under the
//! names used here.
//!
//! A value the domain cannot accept (which the schema's CHECK constraints rule out for enums
//! and amounts) is reported as `XX001` (`data_corrupted`), never as a panic.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use gridstore::postgres::classify;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::domain::{
    Amount, ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditEvent, AuditEventId, Institution,
    InstitutionId, InstitutionPolicy, InvalidId, JsonObject, LedgerEvent, LedgerEventId,
    LifecycleEventId, PolicyId, Position, PositionId, PositionLifecycleEvent, TemplateId,
};

/// `data_corrupted`: a stored value the domain rejects.
const DATA_CORRUPTED: &str = "XX001";

type Result<T> = gridstore::Result<T>;

/// A stored value that does not parse as its domain type.
fn corrupt(
    column: &str,
    err: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> gridstore::Error {
    tracing::error!(column, "stored value rejected by the domain");
    gridstore::Error::Database {
        code: DATA_CORRUPTED.to_owned(),
        source: err.into(),
    }
}

pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> Result<T> {
    row.try_get(column).map_err(classify)
}

fn parse<T>(row: &Row, column: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: &str = get(row, column)?;
    text.parse().map_err(|err| corrupt(column, err))
}

fn parse_opt<T>(row: &Row, column: &str) -> Result<Option<T>>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: Option<&str> = get(row, column)?;
    text.map(|text| text.parse().map_err(|err| corrupt(column, err)))
        .transpose()
}

fn parse_all<T>(row: &Row, column: &str) -> Result<Vec<T>>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let texts: Vec<&str> = get(row, column)?;
    texts
        .into_iter()
        .map(|text| text.parse().map_err(|err| corrupt(column, err)))
        .collect()
}

fn id<T>(
    row: &Row,
    column: &str,
    parse: fn(&str) -> std::result::Result<T, InvalidId>,
) -> Result<T> {
    let text: &str = get(row, column)?;
    parse(text).map_err(|err| corrupt(column, err))
}

fn id_opt<T>(
    row: &Row,
    column: &str,
    parse: fn(&str) -> std::result::Result<T, InvalidId>,
) -> Result<Option<T>> {
    let text: Option<&str> = get(row, column)?;
    text.map(|text| parse(text).map_err(|err| corrupt(column, err)))
        .transpose()
}

fn object(row: &Row, column: &str) -> Result<JsonObject> {
    match get::<Value>(row, column)? {
        Value::Object(object) => Ok(object),
        _ => Err(corrupt(column, "not a json object")),
    }
}

fn object_opt(row: &Row, column: &str) -> Result<Option<JsonObject>> {
    match get::<Option<Value>>(row, column)? {
        None => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(corrupt(column, "not a json object")),
    }
}

fn json<T: serde::de::DeserializeOwned>(row: &Row, column: &str) -> Result<T> {
    serde_json::from_value(get::<Value>(row, column)?).map_err(|err| corrupt(column, err))
}

pub(super) fn json_opt<T: serde::de::DeserializeOwned>(
    row: &Row,
    column: &str,
) -> Result<Option<T>> {
    get::<Option<Value>>(row, column)?
        .map(|value| serde_json::from_value(value).map_err(|err| corrupt(column, err)))
        .transpose()
}

fn time(row: &Row, column: &str) -> Result<DateTime<Utc>> {
    get(row, column)
}

/// Whether a left-joined row is present (its `column` is not null).
pub(super) fn present(row: &Row, column: &str) -> Result<bool> {
    Ok(get::<Option<&str>>(row, column)?.is_some())
}

/// Reads a `bigint` column (e.g. a `count(*) over ()` total).
pub(super) fn int8(row: &Row, column: &str) -> Result<i64> {
    get(row, column)
}

/// `institutions` row.
pub(super) fn institution(row: &Row) -> Result<Institution> {
    Ok(Institution {
        id: id(row, "id", InstitutionId::parse)?,
        name: get(row, "name")?,
        regions: parse_all(row, "regions")?,
        verticals: parse_all(row, "verticals")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// `asset_templates` row.
pub(super) fn template(row: &Row) -> Result<AssetTemplate> {
    Ok(AssetTemplate {
        id: id(row, "id", TemplateId::parse)?,
        institution_id: id(row, "institution_id", InstitutionId::parse)?,
        code: parse(row, "code")?,
        name: get(row, "name")?,
        vertical: parse(row, "vertical")?,
        region: parse(row, "region")?,
        config: object(row, "config")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// `assets` row.
pub(super) fn asset(row: &Row) -> Result<Asset> {
    Ok(Asset {
        id: id(row, "id", AssetId::parse)?,
        institution_id: id(row, "institution_id", InstitutionId::parse)?,
        template_id: id(row, "template_id", TemplateId::parse)?,
        label: get(row, "label")?,
        metadata: object(row, "metadata")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// `positions` row, without its events.
pub(super) fn position(row: &Row) -> Result<Position> {
    let amount: Decimal = get(row, "amount")?;
    Ok(Position {
        id: id(row, "id", PositionId::parse)?,
        institution_id: id(row, "institution_id", InstitutionId::parse)?,
        asset_id: id(row, "asset_id", AssetId::parse)?,
        holder_reference: get(row, "holder_reference")?,
        currency: parse(row, "currency")?,
        amount: Amount::new(amount).map_err(|err| corrupt("amount", err))?,
        state: parse(row, "state")?,
        external_reference: get(row, "external_reference")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        events: std::sync::Arc::default(),
        version: get(row, "version")?,
    })
}

/// `position_events` row.
pub(super) fn lifecycle_event(row: &Row) -> Result<PositionLifecycleEvent> {
    lifecycle_event_with_id(row, "id")
}

/// [`lifecycle_event`] from a row whose event id is the column `id_column` (a row that joins
/// the event to a position, whose own `id` comes first).
pub(super) fn lifecycle_event_with_id(
    row: &Row,
    id_column: &str,
) -> Result<PositionLifecycleEvent> {
    Ok(PositionLifecycleEvent {
        id: id(row, id_column, LifecycleEventId::parse)?,
        position_id: id(row, "position_id", PositionId::parse)?,
        from_state: parse_opt(row, "from_state")?,
        to_state: parse(row, "to_state")?,
        reason: get(row, "reason")?,
        at: time(row, "at")?,
        metadata: object_opt(row, "metadata")?,
    })
}

/// `ledger_events` row.
pub(super) fn ledger_event(row: &Row) -> Result<LedgerEvent> {
    let new_state =
        parse_opt(row, "new_state")?.ok_or_else(|| corrupt("new_state", "missing new state"))?;
    Ok(LedgerEvent {
        id: id(row, "id", LedgerEventId::parse)?,
        kind: parse(row, "kind")?,
        position_id: id(row, "position_id", PositionId::parse)?,
        institution_id: id(row, "institution_id", InstitutionId::parse)?,
        at: time(row, "at")?,
        previous_state: parse_opt(row, "previous_state")?,
        new_state,
        payload: get::<Option<Value>>(row, "payload")?.unwrap_or(Value::Null),
        hash: get(row, "hash")?,
        previous_hash: get(row, "previous_hash")?,
    })
}

/// `api_keys` row.
pub(super) fn api_key(row: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: id(row, "id", ApiKeyId::parse)?,
        institution_id: id(row, "institution_id", InstitutionId::parse)?,
        key_hash: get(row, "key_hash")?,
        label: get(row, "label")?,
        role: parse(row, "role")?,
        created_at: time(row, "created_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

/// `institution_policies` row.
pub(super) fn policy(row: &Row) -> Result<InstitutionPolicy> {
    Ok(InstitutionPolicy {
        id: id(row, "id", PolicyId::parse)?,
        institution_id: id(row, "institution_id", InstitutionId::parse)?,
        region: parse(row, "region")?,
        config: json(row, "config")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// `audit_events` row.
pub(super) fn audit_event(row: &Row) -> Result<AuditEvent> {
    let status_code: Option<i32> = get(row, "status_code")?;
    let status_code = status_code
        .map(|code| u16::try_from(code).map_err(|err| corrupt("status_code", err)))
        .transpose()?;
    Ok(AuditEvent {
        id: id(row, "id", AuditEventId::parse)?,
        occurred_at: time(row, "occurred_at")?,
        created_at: time(row, "created_at")?,
        request_id: get(row, "request_id")?,
        api_key_id: id_opt(row, "api_key_id", ApiKeyId::parse)?,
        institution_id: id_opt(row, "institution_id", InstitutionId::parse)?,
        method: get(row, "method")?,
        path: get(row, "path")?,
        action: parse(row, "action")?,
        outcome: parse(row, "outcome")?,
        resource_type: parse_opt(row, "resource_type")?,
        resource_id: get(row, "resource_id")?,
        payload: get(row, "payload")?,
        error: json_opt(row, "error")?,
        status_code,
        client_ip: get(row, "client_ip")?,
    })
}
