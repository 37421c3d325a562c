//! A keyed table that iterates in list order: `created_at` ascending, ties by key.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use chrono::{DateTime, Utc};

use crate::{Error, Result};

#[derive(Debug)]
pub(super) struct Table<K, V> {
    rows: HashMap<K, V>,
    order: BTreeSet<(DateTime<Utc>, K)>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self {
            rows: HashMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<K: Clone + Eq + Hash + Ord, V> Table<K, V> {
    /// Inserts a new row; `created_at` never changes afterwards.
    pub(super) fn insert(&mut self, created_at: DateTime<Utc>, key: K, value: V) {
        self.order.insert((created_at, key.clone()));
        self.rows.insert(key, value);
    }

    /// [`Error::Duplicate`] of `resource` when a row with `key` exists: a create never
    /// overwrites a row (a seeded id, see [`crate::domain::IdSeed`], can name an existing one).
    pub(super) fn ensure_vacant(&self, resource: &'static str, key: &K) -> Result<()>
    where
        K: AsRef<str>,
    {
        if self.rows.contains_key(key) {
            return Err(Error::Duplicate {
                resource,
                key: key.as_ref().to_owned(),
            });
        }
        Ok(())
    }

    pub(super) fn get(&self, key: &K) -> Option<&V> {
        self.rows.get(key)
    }

    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.rows.get_mut(key)
    }

    /// Removes a row; returns it.
    pub(super) fn remove(&mut self, created_at: DateTime<Utc>, key: &K) -> Option<V> {
        self.order.remove(&(created_at, key.clone()));
        self.rows.remove(key)
    }

    /// Every row in list order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &V> {
        self.order.iter().filter_map(|(_, key)| self.rows.get(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_iterate_by_creation_time_then_key() {
        let early = DateTime::from_timestamp_millis(1).unwrap();
        let late = DateTime::from_timestamp_millis(2).unwrap();
        let mut table = Table::default();
        table.insert(late, "a", 1);
        table.insert(early, "z", 2);
        table.insert(early, "b", 3);
        assert_eq!(table.iter().copied().collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(table.get(&"z"), Some(&2));
    }
}
