//! Pages of the lists whose body is a plain JSON array (kept for compatibility with the
//! original): `/institutions`, `/institutions/{id}/api-keys`, `/institutions/{id}/policies`,
//! `/ledger-events`, `/webhooks` and `/ledger/onchain/failed`.
//!
//! Without `limit` and `cursor` they answer the whole list, as the original did (a lone
//! `offset` is ignored, as it always was). With either they answer one keyset page, still as
//! an array, and, when more rows follow, an RFC 8288 header
//! `Link: <path?query&cursor=...>; rel="next"`: the request's own relative URL with every
//! parameter kept and `cursor` replaced. `limit` (1..=1000, default 100) and `cursor` are read,
//! bound and refused exactly as on the `{data, pagination}` lists ([`super::Paging`]); these
//! lists have no offset pages, so `offset` together with `limit` or `cursor` is refused.

use axum::Json;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::FieldError;
use crate::store::{DEFAULT_LIMIT, KeysetPage, Paginated};

use super::cursor::{self, Binding};
use super::{binding, checked, read_cursor, read_integer};
use crate::api::error::ApiError;
use crate::api::extract::QueryMap;

/// The page request of an array list: the whole list, or one keyset page.
#[derive(Debug, Clone)]
pub struct ArrayPaging {
    page: Option<KeysetPage>,
    binding: Binding,
}

impl ArrayPaging {
    /// Reads `limit` and `cursor` from the query of list `list`, whose filters are the query
    /// parameters `filters` (a cursor is bound to their values).
    ///
    /// # Errors
    /// 400 `Invalid pagination parameters` naming every bad field.
    pub fn from_query(query: &QueryMap, list: &str, filters: &[&str]) -> Result<Self, ApiError> {
        let binding = binding(query, list, filters);
        let cursor = query.get("cursor");
        if query.get("limit").is_none() && cursor.is_none() {
            return Ok(Self {
                page: None,
                binding,
            });
        }
        let mut problems = Vec::new();
        let limit = read_integer(query, "limit", i64::from(DEFAULT_LIMIT), &mut problems);
        if query.get("offset").is_some() {
            problems.push(FieldError::new(
                "offset",
                "Offset is not supported on this list: use cursor",
            ));
        }
        let key = cursor.and_then(|raw| read_cursor(raw, &binding, &mut problems));
        let page = checked(KeysetPage::after(limit, key), problems)?;
        Ok(Self {
            page: Some(page),
            binding,
        })
    }

    /// The store's page request: one page, or the whole list.
    #[must_use]
    pub fn page(&self) -> KeysetPage {
        self.page.clone().unwrap_or_else(KeysetPage::all)
    }

    /// The answer to the request `uri`: the page's items, with a `Link: rel="next"` header
    /// when more follow.
    #[must_use]
    pub fn answer<T>(&self, uri: &Uri, result: Paginated<T>) -> ArrayPage<T> {
        let next = result
            .next
            .as_ref()
            .map(|key| next_link(uri, &cursor::encode(&self.binding, key)));
        ArrayPage {
            items: result.items,
            next,
        }
    }
}

/// The relative URL of the next page: `uri`'s path and query, every parameter but `cursor`
/// kept as sent, then `cursor=<next>` (a cursor needs no escaping).
fn next_link(uri: &Uri, next: &str) -> String {
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("cursor"))
        .collect();
    let cursor = format!("cursor={next}");
    query.push(&cursor);
    format!("<{}?{}>; rel=\"next\"", uri.path(), query.join("&"))
}

/// A page of an array list: a JSON array, with a `Link: rel="next"` header when more follow.
#[derive(Debug, Clone)]
pub struct ArrayPage<T> {
    items: Vec<T>,
    next: Option<String>,
}

impl<T> ArrayPage<T> {
    /// The page's items.
    #[must_use]
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// The same page with each item mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> ArrayPage<U> {
        ArrayPage {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

impl<T: Serialize> IntoResponse for ArrayPage<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.items).into_response();
        // A cursor and a request path are ASCII: the value always builds.
        if let Some(link) = self.next.and_then(|link| HeaderValue::try_from(link).ok()) {
            response.headers_mut().insert(header::LINK, link);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::query;
    use super::*;
    use crate::store::SortKey;

    fn paging(pairs: &[(&str, &str)]) -> Result<ArrayPaging, ApiError> {
        ArrayPaging::from_query(&query(pairs), "webhooks", &["institutionId"])
    }

    #[test]
    fn without_limit_or_cursor_the_whole_list_is_read_even_with_an_offset() {
        assert_eq!(paging(&[]).unwrap().page(), KeysetPage::all());
        assert_eq!(
            paging(&[("offset", "5")]).unwrap().page(),
            KeysetPage::all()
        );
        let first = paging(&[("limit", "2")]).unwrap().page();
        assert_eq!(first, KeysetPage::after(2, None).unwrap());
        let empty_cursor = paging(&[("cursor", "")]).unwrap().page();
        assert_eq!(empty_cursor, KeysetPage::after(100, None).unwrap());
    }

    #[test]
    fn bad_limits_offsets_and_cursors_are_refused_together() {
        let err = paging(&[("limit", "0"), ("offset", "1"), ("cursor", "x!")]).unwrap_err();
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(body["error"], "Invalid pagination parameters");
        let fields: Vec<&str> = body["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["offset", "cursor", "limit"]);
        let other = Binding::new("webhooks", &[("institutionId", Some("inst_b"))]);
        let foreign = cursor::encode(&other, &SortKey::Seq(1));
        let err = paging(&[("institutionId", "inst_a"), ("cursor", &foreign)]).unwrap_err();
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(
            body["details"][0]["message"],
            "Cursor belongs to another list or filter set"
        );
    }

    #[test]
    fn the_next_link_keeps_every_parameter_and_replaces_the_cursor() {
        let uri: Uri = "/webhooks?institutionId=inst_a&cursor=old&limit=2"
            .parse()
            .unwrap();
        assert_eq!(
            next_link(&uri, "abc"),
            "</webhooks?institutionId=inst_a&limit=2&cursor=abc>; rel=\"next\""
        );
        let bare: Uri = "/institutions".parse().unwrap();
        assert_eq!(
            next_link(&bare, "abc"),
            "</institutions?cursor=abc>; rel=\"next\""
        );
    }

    #[test]
    fn a_page_with_more_rows_answers_a_link_header_and_the_last_page_none() {
        let paging = paging(&[("limit", "1")]).unwrap();
        let uri: Uri = "/webhooks?limit=1".parse().unwrap();
        let more = Paginated {
            items: vec![1],
            total: None,
            next: Some(SortKey::Seq(1)),
        };
        let response = paging.answer(&uri, more).into_response();
        let link = response.headers()[header::LINK]
            .to_str()
            .unwrap()
            .to_owned();
        let cursor = link
            .trim_start_matches("</webhooks?limit=1&cursor=")
            .trim_end_matches(">; rel=\"next\"");
        assert_eq!(
            cursor::decode(&Binding::new("webhooks", &[]), cursor),
            Ok(SortKey::Seq(1))
        );
        let last = Paginated {
            items: vec![2],
            total: None,
            next: None,
        };
        let response = paging.answer(&uri, last).into_response();
        assert!(response.headers().get(header::LINK).is_none());
    }
}
