//! The opaque `cursor` of list pages: base64url (no padding) of
//! `v1.<binding>.<key>`, where `<binding>` is 16 hex digits of the SHA-256 of the list's name
//! and its filter values (so a cursor only continues the list and filter set it came from) and
//! `<key>` is the last row's place in the list: `c.<created_at ms>.<id>` (entity lists) or
//! `s.<seq>` (write-ordered lists). Not signed: a cursor only says where to start reading in a
//! list the caller may read anyway; it is checked for shape, version and binding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use sha2::{Digest, Sha256};

use crate::store::SortKey;

const VERSION: &str = "v1";
/// The longest id a cursor may carry (ids are a short prefix and a UUID).
const MAX_ID_LEN: usize = 64;
/// The longest cursor accepted (the OpenAPI document's `maxLength`; an encoded cursor is at
/// most about 140 characters).
pub const MAX_CURSOR_LEN: usize = 256;

/// What a cursor is bound to: a list and the values of its filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding(String);

impl Binding {
    /// The binding of list `list` filtered by `filters` (name and value; an absent or empty
    /// value is no filter).
    #[must_use]
    pub fn new(list: &str, filters: &[(&str, Option<&str>)]) -> Self {
        let mut hash = Sha256::new();
        hash.update(list.as_bytes());
        for (name, value) in filters {
            if let Some(value) = value.filter(|value| !value.is_empty()) {
                hash.update([0]);
                hash.update(name.as_bytes());
                hash.update([0]);
                hash.update(value.as_bytes());
            }
        }
        Self(hex::encode(&hash.finalize()[..8]))
    }
}

/// Why a cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    /// Not a cursor of this API (bad encoding, version or shape).
    Malformed,
    /// A cursor of another list or filter set.
    OtherList,
}

/// Encodes the cursor that continues after `key` in the list of `binding`.
#[must_use]
pub fn encode(binding: &Binding, key: &SortKey) -> String {
    let key = match key {
        SortKey::Created { at, id } => format!("c.{}.{id}", at.timestamp_millis()),
        SortKey::Seq(seq) => format!("s.{seq}"),
    };
    URL_SAFE_NO_PAD.encode(format!("{VERSION}.{}.{key}", binding.0))
}

/// Decodes a cursor of the list of `binding`.
///
/// # Errors
/// [`CursorError::Malformed`] for anything this API did not encode, [`CursorError::OtherList`]
/// for a cursor of another list or filter set.
pub fn decode(binding: &Binding, cursor: &str) -> Result<SortKey, CursorError> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(CursorError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| CursorError::Malformed)?;
    let text = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
    let mut parts = text.splitn(5, '.');
    let (Some(VERSION), Some(bound), Some(kind)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(CursorError::Malformed);
    };
    if bound.len() != 16 || !bound.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CursorError::Malformed);
    }
    let key = match (kind, parts.next(), parts.next()) {
        ("c", Some(millis), Some(id)) if valid_id(id) => {
            let at = millis
                .parse::<i64>()
                .ok()
                .and_then(DateTime::from_timestamp_millis)
                .ok_or(CursorError::Malformed)?;
            SortKey::created(at, id)
        }
        ("s", Some(seq), None) => SortKey::Seq(seq.parse().map_err(|_| CursorError::Malformed)?),
        _ => return Err(CursorError::Malformed),
    };
    if bound != binding.0 {
        return Err(CursorError::OtherList);
    }
    Ok(key)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions() -> Binding {
        Binding::new(
            "positions",
            &[("assetId", Some("ast_1")), ("holderReference", None)],
        )
    }

    #[test]
    fn a_cursor_round_trips_its_key() {
        let at = DateTime::from_timestamp_millis(1_765_000_000_123).unwrap();
        for key in [SortKey::created(at, "pos_0b1-x"), SortKey::Seq(42)] {
            let cursor = encode(&positions(), &key);
            assert!(
                cursor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            );
            assert_eq!(decode(&positions(), &cursor), Ok(key));
        }
    }

    #[test]
    fn a_cursor_of_another_list_or_filter_set_is_refused() {
        let cursor = encode(&positions(), &SortKey::Seq(1));
        let other_filter = Binding::new("positions", &[("assetId", Some("ast_2"))]);
        let other_list = Binding::new("assets", &[("assetId", Some("ast_1"))]);
        assert_eq!(decode(&other_filter, &cursor), Err(CursorError::OtherList));
        assert_eq!(decode(&other_list, &cursor), Err(CursorError::OtherList));
    }

    #[test]
    fn an_empty_filter_value_is_no_filter() {
        assert_eq!(
            Binding::new("positions", &[("assetId", Some(""))]),
            Binding::new("positions", &[("assetId", None)])
        );
    }

    #[test]
    fn anything_this_api_did_not_encode_is_malformed() {
        let binding = positions();
        let bound = binding.0.clone();
        let forged = |text: &str| URL_SAFE_NO_PAD.encode(text);
        for cursor in [
            "not base64!".to_owned(),
            forged("v2.0123456789abcdef.s.1"),
            forged(&format!("v1.{bound}.s.-1")),
            forged(&format!("v1.{bound}.s.1.2")),
            forged(&format!("v1.{bound}.c.12")),
            forged(&format!("v1.{bound}.c.x.pos_1")),
            forged(&format!("v1.{bound}.c.1.pos 1")),
            forged(&format!("v1.{bound}.x.1")),
            forged("v1.short.s.1"),
            "A".repeat(MAX_CURSOR_LEN + 4),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ] {
            assert_eq!(
                decode(&binding, &cursor),
                Err(CursorError::Malformed),
                "{cursor}"
            );
        }
    }
}
