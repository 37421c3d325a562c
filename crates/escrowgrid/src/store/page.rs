//! Pages of a list: by `limit`/`offset`, or by key (keyset pagination), and what a page
//! returns.

use chrono::{DateTime, Utc};

use crate::domain::FieldError;

/// The default page size.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest page size.
pub const MAX_LIMIT: u32 = 1000;

/// A row's place in its list's order: what a keyset page starts after. Keys compare in list
/// order (creation time, then id bytes; or write order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SortKey {
    /// Entity lists: `created_at`, then the id in byte order.
    Created {
        /// The row's creation time.
        at: DateTime<Utc>,
        /// The row's id.
        id: String,
    },
    /// Append-only rows: write order (PostgreSQL's `seq` column, the memory store's index).
    Seq(u64),
}

impl SortKey {
    /// The key of an entity row created at `at` with id `id`.
    #[must_use]
    pub fn created(at: DateTime<Utc>, id: impl AsRef<str>) -> Self {
        Self::Created {
            at,
            id: id.as_ref().to_owned(),
        }
    }
}

/// Where a page starts: after skipping `offset` rows, or right after a row's key (keyset
/// pagination: O(page) at any depth, nothing counted, and rows inserted meanwhile never shift
/// the next page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Skip this many rows of the list.
    Offset(u64),
    /// The rows after this key, in list order; from the first row for `None` (the first page
    /// of a keyset walk).
    After(Option<SortKey>),
}

/// A validated page request: `1 <= limit <= 1000`, and either `offset >= 0` or a key to start
/// after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    limit: u32,
    start: Start,
}

impl Default for Page {
    /// `limit = 100`, `offset = 0`.
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            start: Start::Offset(0),
        }
    }
}

impl Page {
    /// Validates an offset page request.
    ///
    /// # Errors
    /// `Limit must be at least 1`, `Limit must not exceed 1000`, `Offset must be non-negative`.
    pub fn new(limit: i64, offset: i64) -> Result<Self, Vec<FieldError>> {
        let mut errors = limit_errors(limit);
        if offset < 0 {
            errors.push(FieldError::new("offset", "Offset must be non-negative"));
        }
        match (u32::try_from(limit), u64::try_from(offset)) {
            (Ok(limit), Ok(offset)) if errors.is_empty() => Ok(Self {
                limit,
                start: Start::Offset(offset),
            }),
            _ => Err(errors),
        }
    }

    /// Validates a keyset page request: the rows after `key` (from the first row for `None`).
    ///
    /// # Errors
    /// `Limit must be at least 1`, `Limit must not exceed 1000`.
    pub fn after(limit: i64, key: Option<SortKey>) -> Result<Self, Vec<FieldError>> {
        KeysetPage::after(limit, key).map(|page| page.page())
    }

    /// The page size.
    #[must_use]
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// Where the page starts.
    #[must_use]
    pub const fn start(&self) -> &Start {
        &self.start
    }

    /// How many rows an offset page skips (`None` for a keyset page).
    #[must_use]
    pub const fn offset(&self) -> Option<u64> {
        match self.start {
            Start::Offset(offset) => Some(offset),
            Start::After(_) => None,
        }
    }

    /// Applies the page to an already ordered and filtered sequence whose rows have keys:
    /// an offset page counts the total, a keyset page skips the rows up to its key and stops
    /// after one row past the page (to know whether more follow).
    pub fn apply<T>(
        &self,
        items: impl Iterator<Item = T>,
        key: impl Fn(&T) -> SortKey,
    ) -> Paginated<T> {
        match &self.start {
            Start::Offset(offset) => {
                let mut total = 0_u64;
                let mut page = Vec::new();
                for item in items {
                    if total >= *offset && page.len() < self.limit as usize {
                        page.push(item);
                    }
                    total += 1;
                }
                Paginated::counted(page, total, *offset, key)
            }
            Start::After(after) => {
                let rows = items
                    .skip_while(|item| after.as_ref().is_some_and(|after| key(item) <= *after))
                    .take(self.limit as usize + 1)
                    .collect();
                Paginated::after_key(rows, self.limit, key)
            }
        }
    }
}

/// A keyset page of a list that has no offset pages (the lists answered as plain arrays): at
/// most `limit` rows after a key in list order, or every row ([`KeysetPage::all`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysetPage {
    limit: u32,
    after: Option<SortKey>,
}

impl KeysetPage {
    /// The whole list: every row from the first (what these lists answer without paging
    /// parameters).
    #[must_use]
    pub const fn all() -> Self {
        Self {
            limit: u32::MAX,
            after: None,
        }
    }

    /// Validates a page of at most `limit` rows after `key` (from the first row for `None`).
    ///
    /// # Errors
    /// `Limit must be at least 1`, `Limit must not exceed 1000`.
    pub fn after(limit: i64, key: Option<SortKey>) -> Result<Self, Vec<FieldError>> {
        let errors = limit_errors(limit);
        match u32::try_from(limit) {
            Ok(limit) if errors.is_empty() => Ok(Self { limit, after: key }),
            _ => Err(errors),
        }
    }

    /// The page size (`u32::MAX` for the whole list).
    #[must_use]
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// The key the page starts after (`None`: from the first row).
    #[must_use]
    pub const fn key(&self) -> Option<&SortKey> {
        self.after.as_ref()
    }

    /// The same request as a [`Page`] (whose `Start` is always `After`).
    #[must_use]
    pub fn page(&self) -> Page {
        Page {
            limit: self.limit,
            start: Start::After(self.after.clone()),
        }
    }
}

fn limit_errors(limit: i64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if limit < 1 {
        errors.push(FieldError::new("limit", "Limit must be at least 1"));
    }
    if limit > i64::from(MAX_LIMIT) {
        errors.push(FieldError::new("limit", "Limit must not exceed 1000"));
    }
    errors
}

/// One page of a list: its items, the total (offset pages only) and the key to continue from.
#[derive(Debug, Clone, PartialEq)]
pub struct Paginated<T> {
    /// The items of the page, in list order.
    pub items: Vec<T>,
    /// How many items the whole (filtered) list has: counted for offset pages, `None` for
    /// keyset pages (counting would cost O(list) on PostgreSQL, what keyset pages avoid).
    pub total: Option<u64>,
    /// The key of the page's last item when items follow it (the next page starts after it);
    /// `None` on the last page.
    pub next: Option<SortKey>,
}

impl<T> Paginated<T> {
    /// An empty page (also the last one).
    #[must_use]
    pub fn empty(page: &Page) -> Self {
        Self {
            items: Vec::new(),
            total: page.offset().map(|_| 0),
            next: None,
        }
    }

    /// An offset page of `items` that skipped `offset` rows of a list of `total`.
    pub fn counted(items: Vec<T>, total: u64, offset: u64, key: impl Fn(&T) -> SortKey) -> Self {
        let more = offset.saturating_add(items.len() as u64) < total;
        let next = items.last().filter(|_| more).map(key);
        Self {
            items,
            total: Some(total),
            next,
        }
    }

    /// A keyset page from up to `limit + 1` rows read after its key: the extra row, if any,
    /// only tells that more follow.
    pub fn after_key(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> SortKey) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = rows.last().filter(|_| more).map(key);
        Self {
            items: rows,
            total: None,
            next,
        }
    }

    /// Whether items follow this page.
    #[must_use]
    pub const fn has_more(&self) -> bool {
        self.next.is_some()
    }

    /// The same page with each item mapped, those mapped to `None` left out (keys and total
    /// unchanged: for maps that drop nothing in practice, such as looking rows up by a key the
    /// page was read from).
    pub fn filter_map<U>(self, f: impl FnMut(T) -> Option<U>) -> Paginated<U> {
        Paginated {
            items: self.items.into_iter().filter_map(f).collect(),
            total: self.total,
            next: self.next,
        }
    }

    /// The same page with each item mapped (keys and total unchanged).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paginated<U> {
        Paginated {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_bounds_are_validated() {
        assert!(Page::new(1, 0).is_ok());
        assert!(Page::new(1000, 5).is_ok());
        assert_eq!(
            Page::new(0, -1).unwrap_err(),
            vec![
                FieldError::new("limit", "Limit must be at least 1"),
                FieldError::new("offset", "Offset must be non-negative"),
            ]
        );
        assert_eq!(
            Page::new(1001, 0).unwrap_err(),
            vec![FieldError::new("limit", "Limit must not exceed 1000")]
        );
    }

    fn seq(n: &u64) -> SortKey {
        SortKey::Seq(*n)
    }

    #[test]
    fn applying_a_page_counts_everything_and_keeps_the_window() {
        let page = Page::new(2, 3).unwrap();
        let result = page.apply(0..10, seq);
        assert_eq!(result.items, vec![3, 4]);
        assert_eq!(result.total, Some(10));
        assert_eq!(result.next, Some(SortKey::Seq(4)));
        let last = Page::new(5, 8).unwrap();
        assert!(!last.apply(0..10, seq).has_more());
    }

    #[test]
    fn a_keyset_page_starts_after_its_key_and_counts_nothing() {
        let page = Page::after(3, Some(SortKey::Seq(4))).unwrap();
        let result = page.apply(0..10, seq);
        assert_eq!(result.items, vec![5, 6, 7]);
        assert_eq!((result.total, result.next), (None, Some(SortKey::Seq(7))));
        let last = Page::after(3, Some(SortKey::Seq(6)))
            .unwrap()
            .apply(0..10, seq);
        assert_eq!((last.items, last.next), (vec![7, 8, 9], None));
        let first = Page::after(2, None).unwrap().apply(0..10, seq);
        assert_eq!((first.items, first.total), (vec![0, 1], None));
        assert_eq!(
            Page::after(0, None).unwrap_err(),
            vec![FieldError::new("limit", "Limit must be at least 1")]
        );
    }

    #[test]
    fn a_keyset_page_is_a_page_after_its_key_and_all_is_every_row() {
        let page = KeysetPage::after(2, Some(SortKey::Seq(3))).unwrap();
        assert_eq!(page.page(), Page::after(2, Some(SortKey::Seq(3))).unwrap());
        let all = KeysetPage::all().page().apply(0..5000_u64, seq);
        assert_eq!((all.items.len(), all.next), (5000, None));
        assert!(KeysetPage::after(1001, None).is_err());
    }

    #[test]
    fn entity_keys_order_by_creation_time_then_id_bytes() {
        let at = DateTime::from_timestamp_millis(1_000).unwrap();
        let later = DateTime::from_timestamp_millis(1_001).unwrap();
        assert!(SortKey::created(at, "pos_b") < SortKey::created(later, "pos_a"));
        assert!(SortKey::created(at, "pos_B") < SortKey::created(at, "pos_a"));
    }
}
