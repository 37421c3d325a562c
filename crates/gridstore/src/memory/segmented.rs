//! [`Segmented`]: an append-only sequence stored in fixed-size segments, so that growing it
//! never moves what it holds.
//!
//! A `Vec` doubles its buffer when full: it allocates twice the memory, copies every element
//! and frees the old buffer. Amortized that is cheap, but each doubling of a large log is one
//! long pause (a 100 MB copy takes tens of milliseconds) taken by whichever append crosses
//! it, under the lock that append holds. Here an append only ever copies within its last
//! segment, and no more than [`SEGMENT`] elements.

use std::iter::FusedIterator;

/// Elements per segment.
pub const SEGMENT: usize = 4096;

/// An append-only sequence in segments of [`SEGMENT`] elements (the last one may be shorter).
///
/// ```
/// use gridstore::memory::Segmented;
///
/// let mut log = Segmented::new();
/// for n in 0..10_000 {
///     log.push(n);
/// }
/// assert_eq!(log.len(), 10_000);
/// assert_eq!(log.get(9_999), Some(&9_999));
/// assert_eq!(log.partition_point(|n| *n < 5_000), 5_000);
/// assert_eq!(log.iter_from(9_998).copied().collect::<Vec<_>>(), [9_998, 9_999]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmented<T> {
    segments: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Segmented<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Segmented<T> {
    /// An empty sequence; it allocates on its first push.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            segments: Vec::new(),
            len: 0,
        }
    }

    /// The number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `value` at the end.
    pub fn push(&mut self, value: T) {
        match self.segments.last_mut() {
            Some(last) if last.len() < SEGMENT => last.push(value),
            _ => {
                let mut segment = Vec::with_capacity(SEGMENT.min(self.len.max(16)));
                segment.push(value);
                self.segments.push(segment);
            }
        }
        self.len += 1;
    }

    /// The element at `index`, if there is one.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&T> {
        self.segments.get(index / SEGMENT)?.get(index % SEGMENT)
    }

    /// The last element, if any.
    #[must_use]
    pub fn last(&self) -> Option<&T> {
        self.segments.last()?.last()
    }

    /// Every element, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + FusedIterator {
        self.segments.iter().flatten()
    }

    /// The elements from `start` on, in order (none when `start` is past the end).
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &T> + FusedIterator {
        let first = start / SEGMENT;
        let skip = start % SEGMENT;
        self.segments
            .get(first..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .flat_map(move |(i, segment)| {
                &segment[if i == 0 { skip.min(segment.len()) } else { 0 }..]
            })
    }

    /// The index of the first element for which `pred` is false, the elements being
    /// partitioned by it (every `true` before every `false`), as [`slice::partition_point`]:
    /// a binary search over the segments, then within one.
    pub fn partition_point(&self, mut pred: impl FnMut(&T) -> bool) -> usize {
        let segment = self
            .segments
            .partition_point(|segment| segment.last().is_some_and(&mut pred));
        match self.segments.get(segment) {
            Some(within) => segment * SEGMENT + within.partition_point(pred),
            None => self.len,
        }
    }

    /// Keeps only the elements for which `keep` is true, in order. Rebuilds the segments: O(n).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut kept = Self::new();
        for value in std::mem::take(&mut self.segments).into_iter().flatten() {
            if keep(&value) {
                kept.push(value);
            }
        }
        *self = kept;
    }
}

impl<T> Extend<T> for Segmented<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, values: I) {
        for value in values {
            self.push(value);
        }
    }
}

impl<T> FromIterator<T> for Segmented<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Self {
        let mut segmented = Self::new();
        segmented.extend(values);
        segmented
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: usize) -> Segmented<usize> {
        (0..n).collect()
    }

    #[test]
    fn indexes_cross_segment_boundaries_like_a_vec() {
        for n in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 7] {
            let log = filled(n);
            assert_eq!(log.len(), n);
            assert_eq!(
                log.iter().copied().collect::<Vec<_>>(),
                (0..n).collect::<Vec<_>>()
            );
            for i in [0, SEGMENT - 1, SEGMENT, n.saturating_sub(1), n] {
                assert_eq!(log.get(i).copied(), (i < n).then_some(i), "get({i}) of {n}");
            }
            assert_eq!(log.last().copied(), n.checked_sub(1));
        }
    }

    #[test]
    fn iter_from_starts_anywhere_including_past_the_end() {
        let n = 2 * SEGMENT + 3;
        let log = filled(n);
        for start in [
            0,
            5,
            SEGMENT - 1,
            SEGMENT,
            SEGMENT + 1,
            2 * SEGMENT,
            n - 1,
            n,
            n + 9,
        ] {
            let expected: Vec<usize> = (start.min(n)..n).collect();
            assert_eq!(
                log.iter_from(start).copied().collect::<Vec<_>>(),
                expected,
                "{start}"
            );
        }
    }

    #[test]
    fn partition_point_agrees_with_the_slice_one() {
        let n = 3 * SEGMENT + 11;
        let log = filled(n);
        let all: Vec<usize> = (0..n).collect();
        for cut in [
            0,
            1,
            SEGMENT - 1,
            SEGMENT,
            SEGMENT + 1,
            2 * SEGMENT,
            n - 1,
            n,
            n + 1,
        ] {
            assert_eq!(
                log.partition_point(|v| *v < cut),
                all.partition_point(|v| *v < cut),
                "cut {cut}"
            );
        }
        assert_eq!(Segmented::<usize>::new().partition_point(|_| true), 0);
    }

    #[test]
    fn retain_keeps_order_and_reindexes() {
        let mut log = filled(2 * SEGMENT + 5);
        log.retain(|v| v % 3 == 0);
        let expected: Vec<usize> = (0..2 * SEGMENT + 5).filter(|v| v % 3 == 0).collect();
        assert_eq!(log.len(), expected.len());
        assert_eq!(log.iter().copied().collect::<Vec<_>>(), expected);
        assert_eq!(log.get(1), Some(&3));
    }

    #[test]
    fn a_push_never_moves_an_element_of_a_full_segment() {
        let mut log = filled(SEGMENT);
        let first = std::ptr::from_ref(log.get(0).expect("element"));
        for n in SEGMENT..4 * SEGMENT {
            log.push(n);
        }
        assert!(std::ptr::eq(first, log.get(0).expect("element")));
    }
}
