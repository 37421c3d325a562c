//! `GET /events/stream`: the live stream of domain events (Server-Sent Events), backed by a
//! gridstore subscription on the store's event log (the outbox). Contract: `docs/EVENTS.md`.
//!
//! - Scope: a key sees its institution's stream `inst:{id}`; root sees every stream, or one
//!   with `?institutionId=` (an unknown institution is 404, like everywhere). A key naming
//!   another institution gets the same 404 as for a missing one.
//! - Filters: `?types=` (comma list; an unknown type is a 400 validation error) and
//!   `?positionId=` (the events' correlation id; scoped by the stream, so another tenant's
//!   position matches nothing).
//! - Resume: `Last-Event-ID` (or `?after=`) is a cursor `tx_id:seq`; a malformed one is 400.
//!   Without one the stream starts at the log's tail (events committed from now on).
//! - Delivery and back-pressure: see [`pump`].

mod pump;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gridstore::{EventFilter, EventPosition};

use crate::domain::{FieldError, InstitutionId};
use crate::store::Scope;
use crate::store::outbox::{EventType, stream_of};

use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::QueryMap;
use super::openapi::Op;
use super::routes::Route;
use super::state::AppState;

/// The stream's settings (`EVENTS_STREAM_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// `EVENTS_STREAM_HEARTBEAT_MS`: the heartbeat comment interval of an idle stream.
    pub heartbeat: Duration,
    /// `EVENTS_STREAM_MAX_BUFFER`: events queued per client before it is cut off.
    pub max_buffer: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(15),
            max_buffer: 1024,
        }
    }
}

pub(super) fn routes() -> Vec<Route> {
    vec![Route {
        method: Method::GET,
        path: "/events/stream",
        handler: get(stream),
        doc: || {
            Op::new(
                "events",
                "Live stream of domain events (Server-Sent Events; id = cursor, event = type, \
                 data = payload JSON; resume with Last-Event-ID; see docs/EVENTS.md)",
            )
            .query(
                "institutionId",
                "string",
                "Root: only this institution's events (a key may pass its own)",
            )
            .query(
                "types",
                "string",
                "Comma-separated event types, e.g. position.created,position.state_changed",
            )
            .query("positionId", "string", "Only the events of this position")
            .query(
                "after",
                "string",
                "Resume after this cursor (tx_id:seq) when Last-Event-ID cannot be sent",
            )
            .header(
                "Last-Event-ID",
                "Resume after this cursor: the id of the last event received",
            )
            .event_stream(200)
            .errors(&[400, 401, 404, 429])
            .build()
        },
    }]
}

/// What one stream delivers, parsed from the request.
#[derive(Debug)]
struct StreamRequest {
    filter: EventFilter,
    /// More than one type: checked per event (the log filters on one type at most).
    types: Option<BTreeSet<&'static str>>,
    cursor: Option<EventPosition>,
}

async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let request = parse(&state, &caller, &query, &headers).await?;
    let log = state.store().events();
    let start = match request.cursor {
        Some(cursor) => cursor,
        None => log.tail().await.map_err(crate::Error::from)?,
    };
    let settings = state.settings().events_stream.clone();
    let events = pump::start(&state, log, start, request.filter, request.types);
    let keep_alive = KeepAlive::new()
        .interval(settings.heartbeat)
        .text("heartbeat");
    let mut response = Sse::new(events).keep_alive(keep_alive).into_response();
    // Ask reverse proxies (nginx) not to buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

async fn parse(
    state: &AppState,
    caller: &Caller,
    query: &QueryMap,
    headers: &HeaderMap,
) -> ApiResult<StreamRequest> {
    let mut errors = Vec::new();
    let types = parse_types(query.get("types"), &mut errors);
    let cursor = parse_cursor(query, headers, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut filter = EventFilter::all();
    if let Some(stream) = institution_stream(state, caller, query.get("institutionId")).await? {
        filter = filter.stream(stream);
    }
    if let Some(position) = query.get("positionId").filter(|raw| !raw.is_empty()) {
        filter = filter.correlation_id(position);
    }
    let types = match types {
        Some(set) if set.len() == 1 => {
            filter = filter.event_type(set.into_iter().next().unwrap_or_default());
            None
        }
        other => other,
    };
    Ok(StreamRequest {
        filter,
        types,
        cursor,
    })
}

/// The stream to read: the key's own institution, root's `institutionId`, or every stream.
async fn institution_stream(
    state: &AppState,
    caller: &Caller,
    named: Option<&str>,
) -> ApiResult<Option<String>> {
    let named = named.filter(|raw| !raw.is_empty());
    match caller.auth.scope() {
        Scope::Institution(own) => match named {
            Some(raw) if raw != own.as_str() => Err(ApiError::not_found("Institution not found")),
            _ => Ok(Some(stream_of(&own))),
        },
        Scope::Root => match named {
            None => Ok(None),
            Some(raw) => {
                let id: InstitutionId = raw.parse().unwrap_or_default();
                let institution = state.store().get_institution(&Scope::Root, &id).await?;
                Ok(Some(stream_of(&institution.id)))
            }
        },
    }
}

/// `types`: a comma list of known event types; `None` when absent or empty.
fn parse_types(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<BTreeSet<&'static str>> {
    let raw = raw?;
    let mut types = BTreeSet::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.parse::<EventType>() {
            Ok(kind) => {
                types.insert(kind.as_str());
            }
            Err(err) => errors.push(FieldError::new("types", err.to_string())),
        }
    }
    (!types.is_empty()).then_some(types)
}

/// The resume cursor: `Last-Event-ID` (wins) or `after`.
fn parse_cursor(
    query: &QueryMap,
    headers: &HeaderMap,
    errors: &mut Vec<FieldError>,
) -> Option<EventPosition> {
    let header = headers
        .get("last-event-id")
        .map(|value| (value.to_str().unwrap_or("\u{fffd}"), "Last-Event-ID"));
    let (raw, field) = header
        .or_else(|| query.get("after").map(|raw| (raw, "after")))
        .filter(|(raw, _)| !raw.trim().is_empty())?;
    match raw.trim().parse() {
        Ok(cursor) => Some(cursor),
        Err(_) => {
            let message = "must be an event cursor tx_id:seq (the id: of a received event)";
            errors.push(FieldError::new(field, message));
            None
        }
    }
}
