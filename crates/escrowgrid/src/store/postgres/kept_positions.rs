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
//! Bounded: two generations of at most [`CAPACITY`] positions each. A write goes into the
//! young generation; when it is full it becomes the old one and the oldest generation is
//! dropped. A hit in the old generation moves back to the young one. So what is kept is the
//! positions written or transitioned most recently, at most `2 × CAPACITY` of them, with no
//! per-entry bookkeeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::{Position, PositionId};

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
#[derive(Debug, Default)]
pub(super) struct KeptPositions {
    generations: Mutex<Generations>,
}

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<PositionId, Arc<KeptPosition>>,
    old: HashMap<PositionId, Arc<KeptPosition>>,
}

impl KeptPositions {
    /// The position last written under `id` on this instance, if still kept.
    pub(super) fn get(&self, id: &PositionId) -> Option<Arc<KeptPosition>> {
        let mut generations = self.lock();
        if let Some(kept) = generations.young.get(id) {
            return Some(Arc::clone(kept));
        }
        let kept = generations.old.remove(id)?;
        generations.insert(id.clone(), Arc::clone(&kept));
        Some(kept)
    }

    /// Keeps `position` as committed, with `chain_head` its last ledger event's hash, unless a
    /// later version of it is kept (two writes of one position that end in the other order).
    pub(super) fn keep(&self, position: Position, chain_head: Option<String>) {
        let id = position.id.clone();
        let mut generations = self.lock();
        let newer_kept = [&generations.young, &generations.old]
            .into_iter()
            .filter_map(|generation| generation.get(&id))
            .any(|kept| kept.position.version > position.version);
        if newer_kept {
            return;
        }
        generations.old.remove(&id);
        let kept = Arc::new(KeptPosition {
            position,
            chain_head,
        });
        generations.insert(id, kept);
    }

    /// Drops what is kept of `id` (its guard found it stale).
    pub(super) fn forget(&self, id: &PositionId) {
        let mut generations = self.lock();
        generations.young.remove(id);
        generations.old.remove(id);
    }

    /// How many positions are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.lock();
        generations.young.len() + generations.old.len()
    }

    fn lock(&self) -> MutexGuard<'_, Generations> {
        // A panic while holding the lock cannot leave a map half updated in a way that
        // matters: every entry is a complete, committed position.
        self.generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Generations {
    /// Inserts into the young generation, first ageing it when it is full.
    fn insert(&mut self, id: PositionId, kept: Arc<KeptPosition>) {
        if self.young.len() >= CAPACITY && !self.young.contains_key(&id) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(id, kept);
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
    fn the_oldest_generation_is_dropped_so_the_cache_stays_bounded() {
        let kept = KeptPositions::default();
        let oldest = position();
        let oldest_id = oldest.id.clone();
        kept.keep(oldest, None);
        for _ in 1..CAPACITY {
            kept.keep(position(), None);
        }
        assert_eq!(kept.len(), CAPACITY);

        // The young generation is full: the next keep ages it, and one more full generation
        // drops it.
        for _ in 0..CAPACITY {
            kept.keep(position(), None);
        }
        assert_eq!(kept.len(), 2 * CAPACITY);
        assert!(
            kept.get(&oldest_id).is_some(),
            "still in the old generation"
        );
        for _ in 0..2 * CAPACITY {
            kept.keep(position(), None);
        }
        assert!(kept.len() <= 2 * CAPACITY);
    }

    #[test]
    fn a_hit_in_the_old_generation_survives_the_next_ageing() {
        let kept = KeptPositions::default();
        let used = position();
        let used_id = used.id.clone();
        let unused = position();
        let unused_id = unused.id.clone();
        kept.keep(used, None);
        kept.keep(unused, None);
        for _ in 2..CAPACITY {
            kept.keep(position(), None);
        }
        // Ages the first generation: both are now old.
        kept.keep(position(), None);
        assert!(
            kept.get(&used_id).is_some(),
            "moved back to the young generation"
        );
        // Fill the young generation to age it again: the old one (with `unused`) is dropped.
        for _ in 0..CAPACITY {
            kept.keep(position(), None);
        }
        assert!(kept.get(&used_id).is_some());
        assert!(kept.get(&unused_id).is_none());
    }
}
