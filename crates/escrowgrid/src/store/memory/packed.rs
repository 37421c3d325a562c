//! Compact forms of the text the memory store keeps in every row: an id such as
//! `pos_550e8400-e29b-41d4-a716-446655440000` is a `String` of 40 bytes in a 48-byte heap
//! block (72 bytes with its header); packed it is 24 bytes and no heap block. A SHA-256 hex
//! digest (64 characters, an 80-byte block) packs into its 32 bytes. Strings that many rows
//! repeat (institution and API key ids, request methods and paths, client addresses) are kept
//! once each and shared ([`Interner`]).
//!
//! Packing is exact: any text that is not in the packed shape is kept as text, and the text
//! of a packed value is always the text it was packed from.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use serde::de::{DeserializeOwned, IntoDeserializer};
use uuid::Uuid;

use crate::domain::{
    ApiKeyId, AssetId, AuditEventId, DeliveryId, InstitutionId, LedgerEventId, LifecycleEventId,
    PolicyId, PositionId, TemplateId, WebhookId,
};

/// The prefixes a [`Packed`] id may have: `""` for a bare UUID (request ids), then every
/// entity id prefix.
const PREFIXES: [&str; 12] = [
    "",
    InstitutionId::PREFIX,
    TemplateId::PREFIX,
    AssetId::PREFIX,
    PositionId::PREFIX,
    LifecycleEventId::PREFIX,
    LedgerEventId::PREFIX,
    ApiKeyId::PREFIX,
    AuditEventId::PREFIX,
    PolicyId::PREFIX,
    WebhookId::PREFIX,
    DeliveryId::PREFIX,
];

/// The length of a hyphenated UUID.
const UUID_LEN: usize = 36;

/// Id-like text: a known prefix and a lowercase hyphenated UUID as 17 bytes, anything else
/// as text. The same text always packs the same way, so equality and hashing are the text's.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum Packed {
    /// `PREFIXES[prefix]` followed by the hyphenated lowercase text of `uuid`.
    Id { prefix: u8, uuid: [u8; 16] },
    /// Text of any other shape.
    Text(Box<str>),
}

impl Packed {
    /// Packs `text`.
    pub(super) fn new(text: &str) -> Self {
        let Some(split) = text.len().checked_sub(UUID_LEN) else {
            return Self::Text(text.into());
        };
        let (prefix, rest) = text.split_at_checked(split).unwrap_or((text, ""));
        let known = PREFIXES.iter().position(|p| *p == prefix);
        match (known, Uuid::try_parse(rest)) {
            (Some(index), Ok(uuid)) if is_canonical(&uuid, rest) => Self::Id {
                prefix: u8::try_from(index).unwrap_or(u8::MAX),
                uuid: uuid.into_bytes(),
            },
            _ => Self::Text(text.into()),
        }
    }

    /// Whether this is the text `text` (an id's text is built on the stack).
    pub(super) fn is(&self, text: &str) -> bool {
        self.with_text(|own| own == text)
    }

    /// Calls `f` with the text, built on the stack for an id.
    pub(super) fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Self::Text(text) => f(text),
            Self::Id { prefix, uuid } => {
                let prefix = PREFIXES.get(usize::from(*prefix)).copied().unwrap_or("");
                let mut buffer = [0u8; 48];
                buffer[..prefix.len()].copy_from_slice(prefix.as_bytes());
                let id = Uuid::from_bytes(*uuid);
                let len = prefix.len()
                    + id.hyphenated()
                        .encode_lower(&mut buffer[prefix.len()..])
                        .len();
                f(std::str::from_utf8(&buffer[..len]).unwrap_or_default())
            }
        }
    }

    /// The typed id with this text (as an id deserializes: unchecked, any text).
    pub(super) fn to_id<T: DeserializeOwned>(&self) -> T {
        let text: serde::de::value::StringDeserializer<serde::de::value::Error> =
            self.with_text(str::to_owned).into_deserializer();
        T::deserialize(text).unwrap_or_else(|e| unreachable!("an id is a string newtype: {e}"))
    }
}

/// Whether `text` is the lowercase hyphenated form of `uuid` (the one form ids use).
fn is_canonical(uuid: &Uuid, text: &str) -> bool {
    let mut buffer = Uuid::encode_buffer();
    *uuid.hyphenated().encode_lower(&mut buffer) == *text
}

impl fmt::Display for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_text(|text| f.write_str(text))
    }
}

/// Packed values order as their text does (the list order of the rows they key).
impl Ord for Packed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (Self::Id { prefix, uuid }, Self::Id { prefix: p, uuid: u }) if prefix == p => {
                uuid.cmp(u)
            }
            _ => self.with_text(|a| other.with_text(|b| a.cmp(b))),
        }
    }
}

impl PartialOrd for Packed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// A SHA-256 digest in lowercase hex (64 characters) as its 32 bytes, any other text as text.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Digest {
    /// The digest's bytes.
    Bytes([u8; 32]),
    /// Text of any other shape.
    Text(Box<str>),
}

impl Digest {
    /// Packs `text`.
    pub(super) fn new(text: &str) -> Self {
        let mut bytes = [0u8; 32];
        let lowercase = text.bytes().all(|b| !b.is_ascii_uppercase());
        match hex::decode_to_slice(text, &mut bytes) {
            Ok(()) if lowercase => Self::Bytes(bytes),
            _ => Self::Text(text.into()),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(bytes) => f.write_str(&hex::encode(bytes)),
            Self::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// One shared copy of each value handed to it: rows that repeat a value (the institution or
/// API key of a request, its method and path) hold an `Arc` on the same copy. A value stays
/// once interned, even when the write that interned it fails: the interner is a cache of
/// copies, not data anyone reads.
#[derive(Debug)]
pub(super) struct Interner<T: ?Sized>(HashSet<Arc<T>>);

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Self(HashSet::new())
    }
}

impl<T: ?Sized + Eq + Hash> Interner<T> {
    /// The shared copy of `value`, made by `make` the first time.
    fn get_or(&mut self, value: &T, make: impl FnOnce(&T) -> Arc<T>) -> Arc<T> {
        if let Some(known) = self.0.get(value) {
            return Arc::clone(known);
        }
        let shared = make(value);
        self.0.insert(Arc::clone(&shared));
        shared
    }
}

impl Interner<str> {
    /// The shared copy of `text`.
    pub(super) fn text(&mut self, text: &str) -> Arc<str> {
        self.get_or(text, |text| Arc::from(text))
    }
}

impl<T: Clone + Eq + Hash> Interner<T> {
    /// The shared copy of `value`.
    pub(super) fn value(&mut self, value: &T) -> Arc<T> {
        self.get_or(value, |v| Arc::new(v.clone()))
    }
}

/// The values the memory store's rows share, one interner per kind.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Request methods, paths, client addresses and holder references.
    pub(super) text: Interner<str>,
    /// Institution ids.
    pub(super) institutions: Interner<InstitutionId>,
    /// Asset ids.
    pub(super) assets: Interner<AssetId>,
    /// API key ids.
    pub(super) api_keys: Interner<ApiKeyId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_pack_into_seventeen_bytes_and_give_back_their_exact_text() {
        for text in [
            PositionId::new().into_string(),
            InstitutionId::new().into_string(),
            ApiKeyId::new().into_string(),
            DeliveryId::new().into_string(),
            WebhookId::new().into_string(),
            Uuid::new_v4().to_string(),
        ] {
            let packed = Packed::new(&text);
            assert!(matches!(packed, Packed::Id { .. }), "{text}");
            assert_eq!(packed.to_string(), text);
            assert!(packed.is(&text));
        }
        assert!(std::mem::size_of::<Packed>() <= 24);
        assert_eq!(std::mem::size_of::<Option<Packed>>(), 24);
    }

    #[test]
    fn text_of_any_other_shape_is_kept_as_text() {
        let id = PositionId::new().into_string();
        for text in [
            String::new(),
            "pos_".into(),
            id.to_uppercase(),
            format!("x{id}"),
            format!("{id} "),
            id.replace('-', ""),
            format!("zz_{}", Uuid::new_v4()),
            "holder-1".into(),
            "é".repeat(20),
        ] {
            let packed = Packed::new(&text);
            assert!(matches!(packed, Packed::Text(_)), "{text}");
            assert_eq!(packed.to_string(), text);
            assert!(packed.is(&text));
            assert!(!packed.is(&id));
        }
        assert!(!Packed::new(&id).is(&format!("{id}x")));
    }

    #[test]
    fn packed_values_order_as_their_text() {
        let mut texts: Vec<String> = (0..50).map(|_| PositionId::new().into_string()).collect();
        texts.extend((0..5).map(|_| AssetId::new().into_string()));
        texts.extend(["pos_", "pos_zz", "a", "pos_0"].map(String::from));
        let mut packed: Vec<Packed> = texts.iter().map(|t| Packed::new(t)).collect();
        texts.sort();
        packed.sort();
        let back: Vec<String> = packed.iter().map(ToString::to_string).collect();
        assert_eq!(back, texts);
        for (p, t) in packed.iter().zip(&texts) {
            assert_eq!(p.with_text(str::to_owned), *t);
        }
    }

    #[test]
    fn a_packed_id_gives_back_its_typed_id() {
        let id = PositionId::new();
        assert_eq!(Packed::new(id.as_str()).to_id::<PositionId>(), id);
        let odd: PositionId = Packed::new("not an id").to_id();
        assert_eq!(odd.as_str(), "not an id");
    }

    #[test]
    fn digests_pack_into_their_bytes_and_give_back_their_exact_text() {
        let hex = "0123456789abcdef".repeat(4);
        assert!(matches!(Digest::new(&hex), Digest::Bytes(_)));
        assert_eq!(Digest::new(&hex).to_string(), hex);
        for odd in [
            hex.to_uppercase(),
            format!("{hex}00"),
            "abc".into(),
            String::new(),
        ] {
            assert!(matches!(Digest::new(&odd), Digest::Text(_)), "{odd}");
            assert_eq!(Digest::new(&odd).to_string(), odd);
        }
    }

    #[test]
    fn an_interner_hands_out_one_copy_per_value() {
        let mut names = Interner::<str>::default();
        let a = names.text("/positions");
        let b = names.text("/positions");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &names.text("/assets")));
        let mut ids = Interner::<InstitutionId>::default();
        let id = InstitutionId::new();
        assert!(Arc::ptr_eq(&ids.value(&id), &ids.value(&id.clone())));
    }
}
