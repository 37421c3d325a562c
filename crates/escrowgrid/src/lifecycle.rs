//! The pure position lifecycle state machine.
//!
//! ```text
//! CREATED            -> FUNDED | CANCELLED | EXPIRED
//! FUNDED             -> PARTIALLY_RELEASED | RELEASED | CANCELLED | EXPIRED
//! PARTIALLY_RELEASED -> PARTIALLY_RELEASED | RELEASED | CANCELLED | EXPIRED
//! RELEASED, CANCELLED, EXPIRED -> (terminal)
//! ```
//!
//! A request for the current state (any state, terminal ones included) is a no-op: no event,
//! no ledger entry, `updatedAt` unchanged. So the `PARTIALLY_RELEASED` self-loop of the table
//! never produces an event (fixing the original's duplicate ledger entries).

use chrono::{DateTime, Utc};

use crate::domain::{
    JsonObject, LifecycleEventId, Position, PositionLifecycleEvent, PositionState,
};

/// A transition that is not in the table. Displays exactly
/// `Invalid transition from CREATED to RELEASED` (the API returns it as `details`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Invalid transition from {from} to {to}")]
pub struct InvalidTransition {
    /// The current state.
    pub from: PositionState,
    /// The requested state.
    pub to: PositionState,
}

/// Whether the table allows `from -> to` (the `PARTIALLY_RELEASED` self-loop included).
#[must_use]
pub const fn is_allowed(from: PositionState, to: PositionState) -> bool {
    use PositionState::{Cancelled, Created, Expired, Funded, PartiallyReleased, Released};
    matches!(
        (from, to),
        (Created, Funded | Cancelled | Expired)
            | (
                Funded | PartiallyReleased,
                PartiallyReleased | Released | Cancelled | Expired
            )
    )
}

/// The most ledger events a position can have: its creation and the longest run of state
/// changes the table allows (`CREATED -> FUNDED -> PARTIALLY_RELEASED -> RELEASED`; a
/// same-state request writes nothing, so the `PARTIALLY_RELEASED` self-loop adds none).
pub const MAX_LEDGER_EVENTS: usize = 4;

/// Whether a state has no way out.
#[must_use]
pub const fn is_terminal(state: PositionState) -> bool {
    matches!(
        state,
        PositionState::Released | PositionState::Cancelled | PositionState::Expired
    )
}

/// Decides a requested state change: `Ok(None)` for a same-state request (a no-op),
/// `Ok(Some(to))` when the table allows it.
///
/// # Errors
/// [`InvalidTransition`] when the table does not allow it.
pub fn decide(
    from: PositionState,
    to: PositionState,
) -> Result<Option<PositionState>, InvalidTransition> {
    if from == to {
        Ok(None)
    } else if is_allowed(from, to) {
        Ok(Some(to))
    } else {
        Err(InvalidTransition { from, to })
    }
}

/// The result of applying a transition: the new position (state, `updated_at = at`, version
/// + 1, event appended) and the new lifecycle event. The store persists both.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The position after the transition.
    pub position: Position,
    /// The event that was appended.
    pub event: PositionLifecycleEvent,
    /// The state before.
    pub from: PositionState,
}

/// Applies a requested transition to a position, purely. The new lifecycle event gets
/// `event_id` (random, or derived from the request's [`crate::domain::IdSeed`] under an
/// `Idempotency-Key`, so a retry can tell that its transition was already applied).
///
/// # Errors
/// [`InvalidTransition`] when the table does not allow it.
pub fn apply(
    position: &Position,
    to: PositionState,
    reason: Option<String>,
    metadata: Option<JsonObject>,
    at: DateTime<Utc>,
    event_id: LifecycleEventId,
) -> Result<Option<Applied>, InvalidTransition> {
    let Some(to) = decide(position.state, to)? else {
        return Ok(None);
    };
    let event = PositionLifecycleEvent {
        id: event_id,
        position_id: position.id.clone(),
        from_state: Some(position.state),
        to_state: to,
        reason,
        at,
        metadata,
    };
    let mut next = position.clone();
    next.state = to;
    next.updated_at = at;
    next.version += 1;
    next.events = position
        .events
        .iter()
        .cloned()
        .chain([event.clone()])
        .collect();
    Ok(Some(Applied {
        position: next,
        event,
        from: position.state,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AssetId, Currency, InstitutionId, PositionId, now_millis};
    use PositionState::{Cancelled, Created, Expired, Funded, PartiallyReleased, Released};

    /// Every (from, to) pair: `Some(true)` allowed, `Some(false)` invalid, `None` no-op.
    const TABLE: [(PositionState, PositionState, Option<bool>); 36] = [
        (Created, Created, None),
        (Created, Funded, Some(true)),
        (Created, PartiallyReleased, Some(false)),
        (Created, Released, Some(false)),
        (Created, Cancelled, Some(true)),
        (Created, Expired, Some(true)),
        (Funded, Created, Some(false)),
        (Funded, Funded, None),
        (Funded, PartiallyReleased, Some(true)),
        (Funded, Released, Some(true)),
        (Funded, Cancelled, Some(true)),
        (Funded, Expired, Some(true)),
        (PartiallyReleased, Created, Some(false)),
        (PartiallyReleased, Funded, Some(false)),
        (PartiallyReleased, PartiallyReleased, None),
        (PartiallyReleased, Released, Some(true)),
        (PartiallyReleased, Cancelled, Some(true)),
        (PartiallyReleased, Expired, Some(true)),
        (Released, Created, Some(false)),
        (Released, Funded, Some(false)),
        (Released, PartiallyReleased, Some(false)),
        (Released, Released, None),
        (Released, Cancelled, Some(false)),
        (Released, Expired, Some(false)),
        (Cancelled, Created, Some(false)),
        (Cancelled, Funded, Some(false)),
        (Cancelled, PartiallyReleased, Some(false)),
        (Cancelled, Released, Some(false)),
        (Cancelled, Cancelled, None),
        (Cancelled, Expired, Some(false)),
        (Expired, Created, Some(false)),
        (Expired, Funded, Some(false)),
        (Expired, PartiallyReleased, Some(false)),
        (Expired, Released, Some(false)),
        (Expired, Cancelled, Some(false)),
        (Expired, Expired, None),
    ];

    #[test]
    fn every_pair_of_states_follows_the_table() {
        for (from, to, expected) in TABLE {
            let got = decide(from, to);
            match expected {
                None => assert_eq!(got, Ok(None), "{from} -> {to}"),
                Some(true) => assert_eq!(got, Ok(Some(to)), "{from} -> {to}"),
                Some(false) => {
                    assert_eq!(got, Err(InvalidTransition { from, to }), "{from} -> {to}");
                }
            }
        }
    }

    #[test]
    fn the_table_covers_every_pair_exactly_once() {
        for from in PositionState::ALL {
            for to in PositionState::ALL {
                let count = TABLE
                    .iter()
                    .filter(|(f, t, _)| f == from && t == to)
                    .count();
                assert_eq!(count, 1, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn a_position_has_at_most_max_ledger_events_as_no_cycle_of_the_table_writes() {
        fn longest(from: PositionState, depth: usize) -> usize {
            assert!(
                depth <= PositionState::ALL.len(),
                "changes cycle through {from}"
            );
            PositionState::ALL
                .iter()
                .filter(|to| matches!(decide(from, **to), Ok(Some(_))))
                .map(|to| 1 + longest(*to, depth + 1))
                .max()
                .unwrap_or(0)
        }
        assert_eq!(1 + longest(Created, 0), MAX_LEDGER_EVENTS);
    }

    #[test]
    fn the_invalid_transition_message_is_exact() {
        let err = decide(Created, Released).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid transition from CREATED to RELEASED"
        );
    }

    #[test]
    fn terminal_states_allow_nothing() {
        for state in PositionState::ALL {
            let exits = PositionState::ALL
                .iter()
                .filter(|to| is_allowed(*state, **to))
                .count();
            assert_eq!(is_terminal(*state), exits == 0, "{state}");
        }
    }

    fn position(state: PositionState) -> Position {
        let at = now_millis();
        Position {
            id: PositionId::new(),
            institution_id: InstitutionId::new(),
            asset_id: AssetId::new(),
            holder_reference: "h".into(),
            currency: Currency::USD,
            amount: "10".parse().unwrap(),
            state,
            external_reference: None,
            created_at: at,
            updated_at: at,
            events: std::sync::Arc::default(),
            version: 1,
        }
    }

    #[test]
    fn applying_a_transition_appends_one_event_and_bumps_the_version() {
        let before = position(Funded);
        let at = now_millis() + chrono::Duration::seconds(1);
        let applied = apply(
            &before,
            PartiallyReleased,
            Some("part".into()),
            None,
            at,
            LifecycleEventId::new(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(applied.from, Funded);
        assert_eq!(applied.position.state, PartiallyReleased);
        assert_eq!(applied.position.version, 2);
        assert_eq!(applied.position.updated_at, at);
        assert_eq!(
            *applied.position.events,
            *std::slice::from_ref(&applied.event)
        );
        assert_eq!(applied.event.from_state, Some(Funded));
        assert_eq!(applied.event.reason.as_deref(), Some("part"));
    }

    #[test]
    fn a_transition_makes_a_new_events_slice_that_serializes_as_a_list() {
        let first = apply(
            &position(Created),
            Funded,
            None,
            None,
            now_millis(),
            LifecycleEventId::new(),
        )
        .unwrap()
        .unwrap()
        .position;
        let metadata = serde_json::json!({"n": 1.50, "s": "é"})
            .as_object()
            .cloned();
        let second = apply(
            &first,
            PartiallyReleased,
            None,
            metadata,
            now_millis(),
            LifecycleEventId::new(),
        )
        .unwrap()
        .unwrap()
        .position;
        assert_eq!((first.events.len(), second.events.len()), (1, 2));
        assert_eq!(first.events[0], second.events[0]);
        let shared = second.clone();
        assert!(std::sync::Arc::ptr_eq(&shared.events, &second.events));
        let text = serde_json::to_string(&second).unwrap();
        let list = serde_json::to_string(&second.events.to_vec()).unwrap();
        assert!(text.contains(&format!("\"events\":{list}")), "{text}");
        let back: Position = serde_json::from_str(&text).unwrap();
        assert_eq!(back.events, second.events);
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }

    #[test]
    fn a_same_state_request_changes_nothing() {
        let before = position(PartiallyReleased);
        assert_eq!(
            apply(
                &before,
                PartiallyReleased,
                None,
                None,
                now_millis(),
                LifecycleEventId::new()
            ),
            Ok(None)
        );
    }
}
