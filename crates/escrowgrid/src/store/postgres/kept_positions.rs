//! The positions a PostgreSQL store last wrote: per position, the state its own write
//! committed and the head of its ledger chain then, so that the next transition of that
//! position on this instance can skip its read (`store/postgres/transition.rs`).
//!
//! A hint, never an authority. A transition decided on a kept position writes with the
//! version guard of migration `0012_position_guard.sql`: the update matches the row only while
//! its version is the one kept, and every change to a position (on any instance) bumps its
//! version together with its ledger chain. So a write that commits was decided on what the
//! database held when it committed; one whose guard fails writes nothing and is done again on
//! a fresh read. A transition the kept position would refuse, or that would change nothing,
//! reads the database first, so a refusal is always decided on what the database holds.
//!
//! Bounded: at most [`CAPACITY`] positions in each of two [`Generations`], so the positions
//! written or transitioned most recently; and only positions whose lifecycle events' reasons
//! and metadata take at most [`MAX_FREE_TEXT`] bytes of memory (each event may carry 64 KiB of
//! metadata), so that the cache stays within tens of megabytes whatever clients send.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::domain::{Position, PositionId};

use super::generations::Generations;

/// Positions kept at most per generation.
pub(super) const CAPACITY: usize = 4_096;

/// The memory a kept position's events' reasons and metadata may take at most, in bytes by
/// estimate ([`value_fits`]); a position with more is not kept, and its next transition reads
/// it.
pub(super) const MAX_FREE_TEXT: usize = 2_048;

/// The estimated size of a JSON value's node, before any text it owns.
const NODE: usize = 32;

/// The estimated size of a string's handle, before its text.
const STRING: usize = 24;

/// A position as its last write on this instance committed it.
#[derive(Debug)]
pub(super) struct KeptPosition {
    /// The position with its lifecycle events.
    pub(super) position: Position,
    /// The hash of its last ledger event (the head the next one links to).
    pub(super) chain_head: Option<String>,
}

/// The kept positions; shared by every clone of the store.
#[derive(Debug)]
pub(super) struct KeptPositions {
    generations: Mutex<Generations<PositionId, Arc<KeptPosition>>>,
}

impl Default for KeptPositions {
    fn default() -> Self {
        Self {
            generations: Mutex::new(Generations::new(CAPACITY)),
        }
    }
}

impl KeptPositions {
    /// The position last written under `id` on this instance, if still kept.
    pub(super) fn get(&self, id: &PositionId) -> Option<Arc<KeptPosition>> {
        self.lock().get(id)
    }

    /// Keeps `position` as committed, with `chain_head` its last ledger event's hash, unless a
    /// later version of it is kept (two writes of one position that end in the other order).
    /// A position whose events carry more than [`MAX_FREE_TEXT`] is not kept (and what was
    /// kept of it is dropped).
    pub(super) fn keep(&self, position: Position, chain_head: Option<String>) {
        if !free_text_fits(&position) {
            self.forget(&position.id);
            return;
        }
        let mut generations = self.lock();
        if generations
            .peek(&position.id)
            .is_some_and(|kept| kept.position.version > position.version)
        {
            return;
        }
        let id = position.id.clone();
        let kept = Arc::new(KeptPosition {
            position,
            chain_head,
        });
        generations.insert(id, kept);
    }

    /// Drops what is kept of `id` (its guard found it stale, or its write failed).
    pub(super) fn forget(&self, id: &PositionId) {
        self.lock().remove(id);
    }

    /// How many positions are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Generations<PositionId, Arc<KeptPosition>>> {
        // A panic while holding the lock cannot leave a map half updated in a way that
        // matters: every entry is a complete, committed position.
        self.generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether the reasons and metadata of `position`'s events fit in [`MAX_FREE_TEXT`].
fn free_text_fits(position: &Position) -> bool {
    let mut budget = MAX_FREE_TEXT;
    position.events.iter().all(|event| {
        let reason = event
            .reason
            .as_ref()
            .map_or(0, |reason| STRING + reason.len());
        spend(&mut budget, reason)
            && event.metadata.as_ref().is_none_or(|metadata| {
                metadata
                    .iter()
                    .all(|(key, value)| entry_fits(key, value, &mut budget))
            })
    })
}

/// Takes the estimated memory of `value` from `budget` (a node each, plus the text of
/// strings and keys); `false` as soon as it runs out.
fn value_fits(value: &Value, budget: &mut usize) -> bool {
    spend(budget, NODE)
        && match value {
            Value::String(text) => spend(budget, text.len()),
            Value::Array(items) => items.iter().all(|item| value_fits(item, budget)),
            Value::Object(entries) => entries
                .iter()
                .all(|(key, value)| entry_fits(key, value, budget)),
            Value::Null | Value::Bool(_) | Value::Number(_) => true,
        }
}

/// [`value_fits`] for an object's entry: its key, then its value.
fn entry_fits(key: &str, value: &Value, budget: &mut usize) -> bool {
    spend(budget, STRING + key.len()) && value_fits(value, budget)
}

/// Takes `bytes` from `budget`; `false` when there were not that many left.
fn spend(budget: &mut usize, bytes: usize) -> bool {
    match budget.checked_sub(bytes) {
        Some(left) => {
            *budget = left;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AssetId, Currency, InstitutionId, PositionState, now_millis};

    fn position() -> Position {
        let now = now_millis();
        Position {
            id: PositionId::new(),
            institution_id: InstitutionId::new(),
            asset_id: AssetId::new(),
            holder_reference: "holder".into(),
            currency: Currency::USD,
            amount: "1".parse().expect("an amount"),
            state: PositionState::Created,
            external_reference: None,
            version: 1,
            created_at: now,
            updated_at: now,
            events: Arc::default(),
        }
    }

    #[test]
    fn a_kept_position_is_found_by_its_id_with_its_chain_head_until_forgotten() {
        let kept = KeptPositions::default();
        let first = position();
        let id = first.id.clone();
        kept.keep(first, Some("head".into()));

        let found = kept.get(&id).expect("kept");
        assert_eq!(found.position.id, id);
        assert_eq!(found.chain_head.as_deref(), Some("head"));
        assert!(kept.get(&PositionId::new()).is_none());
        kept.forget(&id);
        assert!(kept.get(&id).is_none());
    }

    #[test]
    fn keeping_a_position_again_replaces_what_was_kept() {
        let kept = KeptPositions::default();
        let mut first = position();
        let id = first.id.clone();
        kept.keep(first.clone(), Some("one".into()));
        first.version = 2;
        kept.keep(first, Some("two".into()));

        let found = kept.get(&id).expect("kept");
        assert_eq!(found.position.version, 2);
        assert_eq!(found.chain_head.as_deref(), Some("two"));
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn an_earlier_version_does_not_replace_a_later_one_kept() {
        let kept = KeptPositions::default();
        let mut later = position();
        let id = later.id.clone();
        let earlier = later.clone();
        later.version = 3;
        kept.keep(later, Some("three".into()));
        kept.keep(earlier, Some("one".into()));

        let found = kept.get(&id).expect("kept");
        assert_eq!(found.position.version, 3);
        assert_eq!(found.chain_head.as_deref(), Some("three"));
    }

    #[test]
    fn a_position_whose_events_carry_too_much_free_text_is_not_kept() {
        let kept = KeptPositions::default();
        let small = position();
        let id = small.id.clone();
        kept.keep(small.clone(), None);
        let event = |metadata: serde_json::Value| crate::domain::PositionLifecycleEvent {
            id: crate::domain::LifecycleEventId::new(),
            position_id: id.clone(),
            from_state: Some(PositionState::Created),
            to_state: PositionState::Funded,
            reason: Some("funded".into()),
            at: now_millis(),
            metadata: metadata.as_object().cloned(),
        };
        let mut fits = small.clone();
        fits.version = 2;
        fits.events = Arc::from([event(serde_json::json!({"note": "x".repeat(1_000)}))]);
        let mut too_big = small;
        too_big.version = 3;
        let nested = serde_json::json!({"a": [{"b": "x".repeat(MAX_FREE_TEXT)}]});
        too_big.events = Arc::from([event(nested)]);

        kept.keep(fits, None);
        assert_eq!(kept.get(&id).expect("kept").position.version, 2);
        kept.keep(too_big, None);
        assert!(
            kept.get(&id).is_none(),
            "not kept, and the smaller copy dropped"
        );
    }

    #[test]
    fn at_most_two_generations_of_positions_are_kept() {
        let kept = KeptPositions::default();
        let first = position();
        let first_id = first.id.clone();
        kept.keep(first, None);
        let mut last_id = first_id.clone();
        for _ in 0..3 * CAPACITY {
            let next = position();
            last_id = next.id.clone();
            kept.keep(next, None);
            assert!(kept.len() <= 2 * CAPACITY);
        }
        assert!(kept.get(&first_id).is_none(), "aged out");
        assert!(kept.get(&last_id).is_some());
    }
}
