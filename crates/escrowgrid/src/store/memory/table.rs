//! A keyed table that pages in list order (`created_at` ascending, ties by key) in
//! O(page + log n), over every row or over one of its ordered secondary lists (say, the
//! positions of one institution, of one asset or of one holder reference).
//!
//! Rows sit in an arena of slots; the key map, the list order and each secondary list hold
//! 4-byte slot numbers. A list is a `Vec` kept sorted in list order: a new row is inserted
//! by binary search, which is an append in the common case (rows arrive in creation order),
//! and a page is a slice of it, so `offset` costs nothing; a keyset page (the rows after a
//! [`SortKey`]) finds its first row by binary search, O(log n + page).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};

use crate::store::{Page, Paginated, SortKey, Start};

use super::rows::Key;
use crate::{Error, Result};

/// A row a [`Table`] can hold: its key, its creation time and the secondary lists it is on.
/// None of the three may change while the row is in the table.
pub(super) trait Row {
    /// The primary key (its text compares in byte order, as the list order wants).
    type Key: Key;
    /// Names a secondary list (for example "the positions of institution X").
    type List: Clone + Eq + Hash;
    /// The row's key.
    fn key(&self) -> &Self::Key;
    /// The row's creation time, the first part of the list order.
    fn created_at(&self) -> DateTime<Utc>;
    /// The secondary lists the row is on.
    fn lists(&self) -> Vec<Self::List>;
}

type Slot = u32;

#[derive(Debug)]
pub(super) struct Table<V: Row> {
    slots: Vec<Option<V>>,
    by_key: HashMap<V::Key, Slot>,
    order: Vec<Slot>,
    lists: HashMap<V::List, Vec<Slot>>,
}

impl<V: Row> Default for Table<V> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            by_key: HashMap::new(),
            order: Vec::new(),
            lists: HashMap::new(),
        }
    }
}

/// The rows of one list (or of the whole table), in list order.
pub(super) struct Rows<'a, V: Row> {
    table: &'a Table<V>,
    slots: &'a [Slot],
}

impl<'a, V: Row> Rows<'a, V> {
    /// How many rows the list has.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// One page of the list, in O(page) for an offset (with the list's length as the total)
    /// and O(log n + page) for a key.
    pub(super) fn page(&self, page: &Page) -> Paginated<&'a V> {
        let from = match page.start() {
            Start::Offset(offset) => {
                usize::try_from(*offset).map_or(self.len(), |o| o.min(self.len()))
            }
            Start::After(key) => key.as_ref().map_or(0, |key| self.seek(key)),
        };
        let end = from
            .saturating_add(page.limit() as usize)
            .saturating_add(1)
            .min(self.len());
        let rows: Vec<&'a V> = self.slots[from..end]
            .iter()
            .filter_map(|slot| self.table.at(*slot))
            .collect();
        match page.start() {
            Start::Offset(offset) => {
                let mut rows = rows;
                rows.truncate(page.limit() as usize);
                Paginated::counted(rows, self.len() as u64, *offset, |row| sort_key(*row))
            }
            Start::After(_) => Paginated::after_key(rows, page.limit(), |row| sort_key(*row)),
        }
    }

    /// The index of the first row after `key` (binary search, no allocation per step).
    fn seek(&self, key: &SortKey) -> usize {
        // A write-order key never names an entity row: nothing follows it here.
        let SortKey::Created { at, id } = key else {
            return self.len();
        };
        let table = self.table;
        self.slots.partition_point(|slot| {
            table.at(*slot).is_none_or(|row| {
                row.created_at()
                    .cmp(at)
                    .then_with(|| row.key().with_text(|key| key.cmp(id.as_str())))
                    .is_le()
            })
        })
    }

    /// The rows after `key` (every row for an offset page), in list order.
    fn rows_from(&self, start: &Start) -> impl Iterator<Item = &'a V> + use<'a, V> {
        let from = match start {
            Start::Offset(_) => 0,
            Start::After(key) => key.as_ref().map_or(0, |key| self.seek(key)),
        };
        let table = self.table;
        self.slots[from..]
            .iter()
            .filter_map(move |slot| table.at(*slot))
    }

    /// Every row of the list, in list order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &'a V> + use<'a, V> {
        let table = self.table;
        self.slots.iter().filter_map(move |slot| table.at(*slot))
    }
}

/// A row's key in list order.
pub(super) fn sort_key<V: Row>(row: &V) -> SortKey {
    row.key()
        .with_text(|key| SortKey::created(row.created_at(), key))
}

/// One page of a list in write order of `len` items whose `i`-th item has the write-order key
/// `seq_at(i)` (increasing in `i`), as the items' seqs: O(page) for an offset (with `len` as
/// the total), O(log n + page) for a key.
pub(super) fn seq_window(len: usize, page: &Page, seq_at: impl Fn(usize) -> u64) -> Paginated<u64> {
    let from = match page.start() {
        Start::Offset(offset) => usize::try_from(*offset).map_or(len, |o| o.min(len)),
        Start::After(None) => 0,
        Start::After(Some(SortKey::Seq(after))) => {
            let (mut low, mut high) = (0, len);
            while low < high {
                let middle = low + (high - low) / 2;
                if seq_at(middle) <= *after {
                    low = middle + 1;
                } else {
                    high = middle;
                }
            }
            low
        }
        // An entity key never comes from a write-ordered list: nothing follows it here.
        Start::After(Some(SortKey::Created { .. })) => len,
    };
    let end = from
        .saturating_add(page.limit() as usize)
        .saturating_add(1)
        .min(len);
    let rows: Vec<u64> = (from..end).map(&seq_at).collect();
    match page.start() {
        Start::Offset(offset) => {
            let mut rows = rows;
            rows.truncate(page.limit() as usize);
            Paginated::counted(rows, len as u64, *offset, |seq| SortKey::Seq(*seq))
        }
        Start::After(_) => Paginated::after_key(rows, page.limit(), |seq| SortKey::Seq(*seq)),
    }
}

impl<V: Row> Table<V> {
    fn at(&self, slot: Slot) -> Option<&V> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// Compares two live slots in list order.
    fn compare(&self, a: Slot, b: &V) -> Ordering {
        match self.at(a) {
            Some(a) => (a.created_at(), a.key()).cmp(&(b.created_at(), b.key())),
            None => Ordering::Less,
        }
    }

    /// Inserts a new row (a row with the same key is replaced and moved).
    pub(super) fn insert(&mut self, value: V) {
        self.remove(value.key());
        let slot = Slot::try_from(self.slots.len()).expect("fewer than 2^32 rows per table");
        let lists = value.lists();
        let mut order = std::mem::take(&mut self.order);
        self.place(&mut order, slot, &value);
        self.order = order;
        for list in lists {
            let mut slots = self.lists.remove(&list).unwrap_or_default();
            self.place(&mut slots, slot, &value);
            self.lists.insert(list, slots);
        }
        self.by_key.insert(value.key().clone(), slot);
        self.slots.push(Some(value));
    }

    /// Puts `slot` (holding `value`, not yet in the arena) at its place in `list`.
    fn place(&self, list: &mut Vec<Slot>, slot: Slot, value: &V) {
        let after_last = list
            .last()
            .is_none_or(|last| self.compare(*last, value) == Ordering::Less);
        if after_last {
            list.push(slot);
        } else {
            let at = list.partition_point(|s| self.compare(*s, value) == Ordering::Less);
            list.insert(at, slot);
        }
    }

    /// [`Error::Duplicate`] of `resource` when a row with `key` exists: a create never
    /// overwrites a row (a seeded id, see [`crate::domain::IdSeed`], can name an existing one).
    pub(super) fn ensure_vacant(&self, resource: &'static str, key: &V::Key) -> Result<()> {
        if self.by_key.contains_key(key) {
            return Err(Error::Duplicate {
                resource,
                key: key.with_text(str::to_owned),
            });
        }
        Ok(())
    }

    pub(super) fn get(&self, key: &V::Key) -> Option<&V> {
        self.by_key.get(key).and_then(|slot| self.at(*slot))
    }

    /// The row `key`, to update in place; its key, creation time and lists must not change.
    pub(super) fn get_mut(&mut self, key: &V::Key) -> Option<&mut V> {
        let slot = *self.by_key.get(key)?;
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Removes a row and returns it (O(n) in the lists it was on; rare).
    pub(super) fn remove(&mut self, key: &V::Key) -> Option<V> {
        let slot = self.by_key.remove(key)?;
        let value = self.slots.get_mut(slot as usize)?.take()?;
        self.order.retain(|s| *s != slot);
        for list in value.lists() {
            if let Some(slots) = self.lists.get_mut(&list) {
                slots.retain(|s| *s != slot);
                if slots.is_empty() {
                    self.lists.remove(&list);
                }
            }
        }
        Some(value)
    }

    /// Every row, or the rows of one secondary list, in list order.
    pub(super) fn rows(&self, list: Option<&V::List>) -> Rows<'_, V> {
        let slots = match list {
            None => self.order.as_slice(),
            Some(list) => self.lists.get(list).map_or(&[][..], Vec::as_slice),
        };
        Rows { table: self, slots }
    }

    /// Every row in list order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &V> {
        self.rows(None).iter()
    }

    /// A page of the rows that are on every one of `lists` (every row when `lists` is empty)
    /// and pass `keep`. With at most one list the list is the answer, so this costs
    /// O(page + log n) and `keep` is not called; with several it scans the shortest one (from
    /// the page's key, found by binary search), so `keep` must test membership of all of them.
    pub(super) fn page_of(
        &self,
        lists: &[V::List],
        keep: impl Fn(&V) -> bool,
        page: &Page,
    ) -> Paginated<&V> {
        match lists {
            [] => self.rows(None).page(page),
            [one] => self.rows(Some(one)).page(page),
            many => {
                let shortest = many
                    .iter()
                    .map(|list| self.rows(Some(list)))
                    .min_by_key(Rows::len)
                    .unwrap_or_else(|| self.rows(None));
                // The scan already starts after the key: the page only windows it.
                let rows = shortest.rows_from(page.start()).filter(|row| keep(row));
                match page.start() {
                    Start::Offset(_) => page.apply(rows, |row| sort_key(*row)),
                    Start::After(_) => Paginated::after_key(
                        rows.take(page.limit() as usize + 1).collect(),
                        page.limit(),
                        |row| sort_key(*row),
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct R {
        key: &'static str,
        at: i64,
        group: u8,
    }

    impl Row for R {
        type Key = &'static str;
        type List = u8;
        fn key(&self) -> &&'static str {
            &self.key
        }
        fn created_at(&self) -> DateTime<Utc> {
            DateTime::from_timestamp_millis(self.at).unwrap()
        }
        fn lists(&self) -> Vec<u8> {
            vec![self.group]
        }
    }

    fn r(key: &'static str, at: i64, group: u8) -> R {
        R { key, at, group }
    }

    fn keys<'a>(rows: impl IntoIterator<Item = &'a R>) -> Vec<&'static str> {
        rows.into_iter().map(|r| r.key).collect()
    }

    #[test]
    fn rows_iterate_by_creation_time_then_key_in_every_list() {
        let mut table = Table::default();
        table.insert(r("a", 2, 1));
        table.insert(r("z", 1, 2));
        table.insert(r("b", 1, 1));
        table.insert(r("c", 3, 2));
        assert_eq!(keys(table.iter()), vec!["b", "z", "a", "c"]);
        assert_eq!(keys(table.rows(Some(&1)).iter()), vec!["b", "a"]);
        assert_eq!(keys(table.rows(Some(&2)).iter()), vec!["z", "c"]);
        assert_eq!(table.rows(Some(&9)).len(), 0);
        assert_eq!(table.get(&"z"), Some(&r("z", 1, 2)));
    }

    #[test]
    fn a_page_is_a_window_of_its_list_with_the_list_length_as_total() {
        let mut table = Table::default();
        for (i, key) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            table.insert(r(key, i64::try_from(i).unwrap(), u8::from(i % 2 == 0)));
        }
        let page = table.rows(None).page(&Page::new(2, 1).unwrap());
        assert_eq!((keys(page.items), page.total.unwrap()), (vec!["b", "c"], 5));
        let evens = table.rows(Some(&1)).page(&Page::new(10, 1).unwrap());
        assert_eq!(
            (keys(evens.items), evens.total.unwrap()),
            (vec!["c", "e"], 3)
        );
        let past = table.rows(None).page(&Page::new(10, 99).unwrap());
        assert_eq!((past.items.len(), past.total.unwrap()), (0, 5));
    }

    #[test]
    fn a_keyset_page_starts_right_after_its_key_in_every_list() {
        let mut table = Table::default();
        for (key, at, group) in [
            ("a", 1, 1),
            ("b", 1, 2),
            ("c", 2, 1),
            ("d", 3, 1),
            ("e", 3, 2),
        ] {
            table.insert(r(key, at, group));
        }
        let after = |key: &'static str, at: i64| {
            Page::after(
                2,
                Some(SortKey::created(
                    DateTime::from_timestamp_millis(at).unwrap(),
                    key,
                )),
            )
            .unwrap()
        };
        let page = table.rows(None).page(&after("a", 1));
        assert_eq!((keys(page.items), page.total), (vec!["b", "c"], None));
        assert_eq!(page.next, Some(sort_key(&r("c", 2, 1))));
        let ones = table.rows(Some(&1)).page(&after("b", 1));
        assert_eq!((keys(ones.items), ones.next), (vec!["c", "d"], None));
        // A key between rows (a row deleted since) starts at the next one.
        let gap = table.rows(None).page(&after("bb", 1));
        assert_eq!(keys(gap.items), vec!["c", "d"]);
        let first = table.rows(None).page(&Page::after(2, None).unwrap());
        assert_eq!(keys(first.items), vec!["a", "b"]);
        // Several lists: the shortest (group 2) is scanned from the key.
        let scan = table.page_of(&[1, 2], |_| true, &after("b", 1));
        assert_eq!((keys(scan.items), scan.next), (vec!["e"], None));
        let seq = table
            .rows(None)
            .page(&Page::after(2, Some(SortKey::Seq(0))).unwrap());
        assert!(seq.items.is_empty());
    }

    #[test]
    fn several_lists_scan_the_shortest_with_the_predicate() {
        let mut table = Table::default();
        table.insert(r("a", 1, 1));
        table.insert(r("b", 2, 2));
        table.insert(r("c", 3, 1));
        // The shortest list (group 2: only "b") is scanned, through the predicate.
        let shortest = table.page_of(&[1, 2], |_| true, &Page::default());
        assert_eq!(
            (keys(shortest.items), shortest.total.unwrap()),
            (vec!["b"], 1)
        );
        let filtered = table.page_of(&[1, 2], |row| row.key != "b", &Page::default());
        assert_eq!((filtered.items.len(), filtered.total.unwrap()), (0, 0));
        let one = table.page_of(&[2], |_| false, &Page::default());
        assert_eq!((keys(one.items), one.total.unwrap()), (vec!["b"], 1));
    }

    #[test]
    fn removed_rows_leave_every_list() {
        let mut table = Table::default();
        table.insert(r("a", 1, 1));
        table.insert(r("b", 2, 1));
        assert_eq!(table.remove(&"a"), Some(r("a", 1, 1)));
        assert_eq!(table.remove(&"a"), None);
        assert_eq!(keys(table.iter()), vec!["b"]);
        assert_eq!(keys(table.rows(Some(&1)).iter()), vec!["b"]);
        assert!(table.get(&"a").is_none());
    }
}
