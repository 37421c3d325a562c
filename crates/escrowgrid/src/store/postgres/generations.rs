//! A bounded map that keeps what was used most recently, without per-entry bookkeeping: two
//! generations of at most `capacity` entries each. An insert goes into the young generation;
//! when that is full it becomes the old one and the previous old one is dropped. A hit in the
//! old generation moves back to the young one, so an entry used at least once per generation
//! stays. At most `2 × capacity` entries are kept. The store's hints (creation contexts, kept
//! positions) live in one each, behind a mutex.

use std::collections::HashMap;
use std::hash::Hash;

/// Two generations of entries; see the [module docs](self).
#[derive(Debug)]
pub(super) struct Generations<K, V> {
    capacity: usize,
    young: HashMap<K, V>,
    old: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> Generations<K, V> {
    /// An empty map keeping at most `capacity` entries per generation (at least one).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            young: HashMap::new(),
            old: HashMap::new(),
        }
    }

    /// The entry under `key`, if kept; a hit in the old generation moves it to the young one.
    pub(super) fn get(&mut self, key: &K) -> Option<V>
    where
        K: Clone,
    {
        if let Some(value) = self.young.get(key) {
            return Some(value.clone());
        }
        let value = self.old.remove(key)?;
        self.insert(key.clone(), value.clone());
        Some(value)
    }

    /// The entry under `key`, if kept, without moving it.
    pub(super) fn peek(&self, key: &K) -> Option<&V> {
        self.young.get(key).or_else(|| self.old.get(key))
    }

    /// Keeps `value` under `key` in the young generation, replacing what was kept under it;
    /// ages the young generation first when it is full.
    pub(super) fn insert(&mut self, key: K, value: V) {
        self.old.remove(&key);
        if self.young.len() >= self.capacity && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }

    /// Drops the entry under `key`.
    pub(super) fn remove(&mut self, key: &K) {
        self.young.remove(key);
        self.old.remove(key);
    }

    /// Keeps only the entries `keep` accepts.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.young.retain(|key, _| keep(key));
        self.old.retain(|key, _| keep(key));
    }

    /// How many entries are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_found_replaced_and_removed_by_its_key() {
        let mut map = Generations::new(4);
        map.insert("a", 1);
        map.insert("a", 2);
        assert_eq!(map.get(&"a"), Some(2));
        assert_eq!(map.peek(&"a"), Some(&2));
        assert_eq!(map.get(&"b"), None);
        map.remove(&"a");
        assert_eq!(map.get(&"a"), None);
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn at_most_two_generations_are_kept_and_the_oldest_goes_first() {
        let mut map = Generations::new(2);
        for key in 0..6 {
            map.insert(key, key);
            assert!(map.len() <= 4);
        }
        // 0 and 1 were aged twice; 2, 3 are old, 4, 5 young.
        assert_eq!(map.get(&0), None);
        assert_eq!(map.get(&1), None);
        assert_eq!(map.peek(&2), Some(&2));
        assert_eq!(map.peek(&5), Some(&5));
    }

    #[test]
    fn an_entry_used_in_the_old_generation_survives_the_next_ageing() {
        let mut map = Generations::new(2);
        map.insert("used", 1);
        map.insert("unused", 2);
        map.insert("x", 3); // ages: "used" and "unused" are old
        assert_eq!(map.get(&"used"), Some(1)); // back to young: {x, used}
        map.insert("y", 4); // ages again: {x, used} old, "unused" dropped
        assert_eq!(map.get(&"unused"), None);
        assert_eq!(map.get(&"used"), Some(1));
    }

    #[test]
    fn retain_drops_what_it_rejects_from_both_generations() {
        let mut map = Generations::new(2);
        for key in 0..4 {
            map.insert(key, key);
        }
        map.retain(|key| key % 2 == 1);
        assert_eq!(map.len(), 2);
        assert_eq!(map.peek(&0), None);
        assert_eq!(map.peek(&3), Some(&3));
    }
}
