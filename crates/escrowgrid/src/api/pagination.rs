//! `limit`/`offset` query parameters and the `{data, pagination}` envelope.
//!
//! The bounds are the store's ([`Page::new`]: `limit` 1..=1000, default 100; `offset` ≥ 0,
//! default 0). An empty value counts as 0 (as the original coerced it), a non-integer is
//! rejected. Failures answer 400 `Invalid pagination parameters` listing every bad field.

use serde::Serialize;

use crate::domain::FieldError;
use crate::store::{DEFAULT_LIMIT, Page, Paginated};

use super::error::ApiError;
use super::extract::QueryMap;

/// Reads and validates `limit` and `offset` from the query.
pub fn page_from_query(query: &QueryMap) -> Result<Page, ApiError> {
    let mut problems = Vec::new();
    let mut read = |field: &str, default: i64| match query.get(field).map(parse_integer) {
        None => default,
        Some(Ok(value)) => value,
        Some(Err(message)) => {
            problems.push(FieldError::new(field, message));
            default
        }
    };
    let limit = read("limit", i64::from(DEFAULT_LIMIT));
    let offset = read("offset", 0);
    match Page::new(limit, offset) {
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
    /// Items matching the filters, over all pages.
    pub total: u64,
    /// The page size used.
    pub limit: u32,
    /// The offset used.
    pub offset: u64,
    /// Whether items remain after this page.
    pub has_more: bool,
}

/// The `{data, pagination}` envelope of list endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct PageBody<T> {
    /// The page of items.
    pub data: Vec<T>,
    /// Where this page sits.
    pub pagination: PaginationInfo,
}

impl<T> PageBody<T> {
    /// Wraps a store page.
    pub fn new(result: Paginated<T>, page: Page) -> Self {
        let has_more = result.has_more(page);
        Self {
            pagination: PaginationInfo {
                total: result.total,
                limit: page.limit(),
                offset: page.offset(),
                has_more,
            },
            data: result.items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> QueryMap {
        QueryMap(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn missing_parameters_take_the_defaults() {
        assert_eq!(
            page_from_query(&query(&[])).expect("valid"),
            Page::default()
        );
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let err =
            page_from_query(&query(&[("limit", "0"), ("offset", "-1")])).expect_err("invalid");
        let body = serde_json::to_value(err.body()).expect("json");
        assert_eq!(body["error"], "Invalid pagination parameters");
        assert_eq!(body["details"][0]["message"], "Limit must be at least 1");
        assert_eq!(body["details"][1]["message"], "Offset must be non-negative");
    }

    #[test]
    fn an_empty_limit_counts_as_zero_and_fails() {
        assert!(page_from_query(&query(&[("limit", "")])).is_err());
    }

    #[test]
    fn a_non_numeric_limit_is_reported() {
        let err = page_from_query(&query(&[("limit", "ten")])).expect_err("invalid");
        let body = serde_json::to_value(err.body()).expect("json");
        assert_eq!(body["details"][0]["field"], "limit");
    }
}
