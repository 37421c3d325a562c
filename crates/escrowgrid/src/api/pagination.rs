//! `limit`/`offset`/`cursor` query parameters and the `{data, pagination}` envelope.
//!
//! The bounds are the store's ([`Page::new`]: `limit` 1..=1000, default 100; `offset` ≥ 0,
//! default 0). An empty value counts as 0 (as the original coerced it), a non-integer is
//! rejected. Failures answer 400 `Invalid pagination parameters` listing every bad field.
//!
//! Keyset pages: `cursor` (a page's `nextCursor`, see [`cursor`]) continues a list after the
//! previous page's last row, at a cost that does not grow with the depth; an empty `cursor`
//! starts a keyset walk at the first row. A cursor page has no `offset` and no `total` (counting
//! the list would cost what keyset pages avoid); `cursor` together with `offset` is refused, as
//! is a cursor of another list or filter set. Every page, offset pages included, carries
//! `nextCursor`: `null` on the last page.
//!
//! The lists answered as plain JSON arrays page by `limit`/`cursor` too, with a `Link` header
//! instead of the envelope: [`array`].

pub mod array;
pub mod cursor;

use serde::Serialize;

use crate::domain::FieldError;
use crate::store::{DEFAULT_LIMIT, Page, Paginated, SortKey};

use self::cursor::{Binding, CursorError};
use super::error::ApiError;
use super::extract::QueryMap;

/// A list's page request read from the query, and what its cursors are bound to.
#[derive(Debug, Clone)]
pub struct Paging {
    page: Page,
    binding: Binding,
}

impl Paging {
    /// Reads and validates `limit` and `offset` or `cursor` from the query of list `list`,
    /// whose filters are the query parameters `filters` (a cursor is bound to their values).
    ///
    /// # Errors
    /// 400 `Invalid pagination parameters` naming every bad field.
    pub fn from_query(query: &QueryMap, list: &str, filters: &[&str]) -> Result<Self, ApiError> {
        let binding = binding(query, list, filters);
        let page = page_from_query(query, &binding)?;
        Ok(Self { page, binding })
    }

    /// The store's page request.
    #[must_use]
    pub fn page(&self) -> Page {
        self.page.clone()
    }

    /// Wraps a store page in the response envelope.
    #[must_use]
    pub fn body<T>(&self, result: Paginated<T>) -> PageBody<T> {
        PageBody {
            pagination: PaginationInfo {
                total: result.total,
                limit: self.page.limit(),
                offset: self.page.offset(),
                has_more: result.has_more(),
                next_cursor: result
                    .next
                    .as_ref()
                    .map(|key| cursor::encode(&self.binding, key)),
            },
            data: result.items,
        }
    }
}

/// What the cursors of list `list` filtered by the query parameters `filters` are bound to.
fn binding(query: &QueryMap, list: &str, filters: &[&str]) -> Binding {
    let values: Vec<(&str, Option<&str>)> = filters
        .iter()
        .map(|name| (*name, query.get(name)))
        .collect();
    Binding::new(list, &values)
}

/// Reads and validates `limit` and `offset` or `cursor` (bound to `binding`) from the query.
fn page_from_query(query: &QueryMap, binding: &Binding) -> Result<Page, ApiError> {
    let mut problems = Vec::new();
    let limit = read_integer(query, "limit", i64::from(DEFAULT_LIMIT), &mut problems);
    let page = match query.get("cursor") {
        None => {
            let offset = read_integer(query, "offset", 0, &mut problems);
            Page::new(limit, offset)
        }
        Some(raw) => {
            if query.get("offset").is_some() {
                problems.push(FieldError::new(
                    "offset",
                    "Offset cannot be combined with cursor",
                ));
            }
            Page::after(limit, read_cursor(raw, binding, &mut problems))
        }
    };
    checked(page, problems)
}

/// The integer query parameter `field` (`default` when absent), or a problem.
fn read_integer(
    query: &QueryMap,
    field: &str,
    default: i64,
    problems: &mut Vec<FieldError>,
) -> i64 {
    match query.get(field).map(parse_integer) {
        None => default,
        Some(Ok(value)) => value,
        Some(Err(message)) => {
            problems.push(FieldError::new(field, message));
            default
        }
    }
}

/// The key a `cursor` value continues after (`None` for an empty one, which starts at the
/// first row), or a problem.
fn read_cursor(raw: &str, binding: &Binding, problems: &mut Vec<FieldError>) -> Option<SortKey> {
    if raw.is_empty() {
        return None;
    }
    let message = match cursor::decode(binding, raw) {
        Ok(key) => return Some(key),
        Err(CursorError::Malformed) => "Invalid cursor",
        Err(CursorError::OtherList) => "Cursor belongs to another list or filter set",
    };
    problems.push(FieldError::new("cursor", message));
    None
}

/// The page, or 400 `Invalid pagination parameters` with every problem found.
fn checked<P>(
    page: Result<P, Vec<FieldError>>,
    mut problems: Vec<FieldError>,
) -> Result<P, ApiError> {
    match page {
        Ok(page) if problems.is_empty() => Ok(page),
        Ok(_) => Err(invalid(problems)),
        Err(mut errors) => {
            problems.append(&mut errors);
            Err(invalid(problems))
        }
    }
}

fn invalid(problems: Vec<FieldError>) -> ApiError {
    ApiError::field_errors("Invalid pagination parameters", problems)
}

fn parse_integer(raw: &str) -> Result<i64, &'static str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(0);
    }
    if let Ok(value) = trimmed.parse::<i64>() {
        return Ok(value);
    }
    match trimmed.parse::<f64>() {
        Ok(value) if value.is_finite() && value.fract() != 0.0 => {
            Err("Invalid input: expected int, received number")
        }
        Ok(value) if value.is_finite() => Err("Too big: expected number to be within range"),
        _ => Err("Invalid input: expected number, received NaN"),
    }
}

/// The pagination block of a list response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaginationInfo {
    /// Items matching the filters, over all pages (offset pages only: absent on cursor pages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The page size used.
    pub limit: u32,
    /// The offset used (offset pages only: absent on cursor pages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Whether items remain after this page.
    pub has_more: bool,
    /// The `cursor` of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The `{data, pagination}` envelope of list endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct PageBody<T> {
    /// The page of items.
    pub data: Vec<T>,
    /// Where this page sits.
    pub pagination: PaginationInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query of `pairs` (also for the array lists' tests).
    pub(super) fn query(pairs: &[(&str, &str)]) -> QueryMap {
        QueryMap(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn page_from(pairs: &[(&str, &str)]) -> Result<Page, ApiError> {
        Paging::from_query(&query(pairs), "positions", &["assetId"]).map(|paging| paging.page())
    }

    fn details(err: &ApiError) -> serde_json::Value {
        let body = serde_json::to_value(err.body()).expect("json");
        assert_eq!(body["error"], "Invalid pagination parameters");
        body["details"].clone()
    }

    #[test]
    fn missing_parameters_take_the_defaults() {
        assert_eq!(page_from(&[]).expect("valid"), Page::default());
    }

    #[test]
    fn a_cursor_continues_after_its_key_and_an_empty_one_starts_a_keyset_walk() {
        let binding = Binding::new("positions", &[("assetId", Some("ast_1"))]);
        let key = crate::store::SortKey::Seq(7);
        let cursor = cursor::encode(&binding, &key);
        let page = page_from(&[("assetId", "ast_1"), ("cursor", &cursor), ("limit", "5")]);
        assert_eq!(
            page.expect("valid"),
            Page::after(5, Some(key)).expect("page")
        );
        let first = page_from(&[("cursor", "")]).expect("valid");
        assert_eq!(first, Page::after(100, None).expect("page"));
    }

    #[test]
    fn a_cursor_with_an_offset_or_of_another_filter_set_is_refused() {
        let binding = Binding::new("positions", &[("assetId", Some("ast_1"))]);
        let cursor = cursor::encode(&binding, &crate::store::SortKey::Seq(7));
        let err = page_from(&[("cursor", &cursor), ("offset", "0")]).expect_err("invalid");
        let problems = details(&err);
        assert_eq!(problems[0]["field"], "offset");
        assert_eq!(
            problems[0]["message"],
            "Offset cannot be combined with cursor"
        );
        assert_eq!(problems[1]["field"], "cursor");
        assert_eq!(
            problems[1]["message"],
            "Cursor belongs to another list or filter set"
        );
        let err = page_from(&[("cursor", "garbage!")]).expect_err("invalid");
        assert_eq!(details(&err)[0]["message"], "Invalid cursor");
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let err = page_from(&[("limit", "0"), ("offset", "-1")]).expect_err("invalid");
        let body = serde_json::to_value(err.body()).expect("json");
        assert_eq!(body["error"], "Invalid pagination parameters");
        assert_eq!(body["details"][0]["message"], "Limit must be at least 1");
        assert_eq!(body["details"][1]["message"], "Offset must be non-negative");
    }

    #[test]
    fn an_empty_limit_counts_as_zero_and_fails() {
        assert!(page_from(&[("limit", "")]).is_err());
    }

    #[test]
    fn a_non_numeric_limit_is_reported() {
        let err = page_from(&[("limit", "ten")]).expect_err("invalid");
        let body = serde_json::to_value(err.body()).expect("json");
        assert_eq!(body["details"][0]["field"], "limit");
    }
}
