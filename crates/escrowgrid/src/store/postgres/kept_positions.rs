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
//! written or transitioned most recently.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::{Position, PositionId};

use super::generations::Generations;

/// Positions kept at most per generation.
pub(super) const CAPACITY: usize = 4_096;

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
    pub(super) fn keep(&self, position: Position, chain_head: Option<String>) {
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
