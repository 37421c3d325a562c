//! Prefixed entity ids: `<prefix>_<uuid v4>`, e.g. `pos_550e8400-e29b-41d4-a716-446655440000`.
//!
//! Ids are random, except the id of the entity a create makes under an `Idempotency-Key`:
//! that one is derived from an [`IdSeed`] (caller, key, request hash), so a retry after a
//! commit whose outcome was unknown names the same entity and can find it instead of creating
//! a second one (see `docs/OPERATIONS.md`, "Commit outcome unknown").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Domain separation of the seed derivation; change the version to change every derived id.
const SEED_DOMAIN: &[u8] = b"escrowgrid/id-seed/v1";

/// What a create under an `Idempotency-Key` derives its entity's id from: SHA-256 of the
/// caller (`root` or the API key id), the key and the request hash, each length-prefixed.
///
/// Two attempts of the same request by the same caller under the same key derive the same id;
/// anything else (another caller, key or body) derives an unrelated one. The id is not a
/// secret (ids never are), and no caller can make another caller's seed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdSeed([u8; 32]);

impl IdSeed {
    /// The seed of one request: `caller` (the idempotency scope), `key` (the
    /// `Idempotency-Key`) and `request_hash` (method, path and body).
    #[must_use]
    pub fn derive(caller: &str, key: &str, request_hash: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(SEED_DOMAIN);
        for part in [caller, key, request_hash] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Self(hasher.finalize().into())
    }

    /// The UUID of the entity with this `prefix` (bits of a hash, marked version 4 like the
    /// random ones, so derived ids look and parse exactly like them).
    fn uuid(&self, prefix: &str) -> Uuid {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(prefix.as_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl fmt::Debug for IdSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdSeed({})", hex::encode(&self.0[..8]))
    }
}

/// A string that is not a well-formed id of the expected kind (wrong prefix or not a
/// lowercase hyphenated UUID). The API answers such ids with 404, like unknown ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {resource} id: {value:?}")]
pub struct InvalidId {
    /// The resource the id was meant to name, e.g. `"position"`.
    pub resource: &'static str,
    /// The rejected input.
    pub value: String,
}

/// Defines one id newtype over the full prefixed string.
macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $resource:literal) => {
        $(#[$meta])*
        ///
        /// Serialized transparently as its string. Deserialization does not validate (an
        /// unknown or malformed id simply matches nothing); use [`Self::parse`] on untrusted
        /// input that must be well-formed.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with, underscore included.
            pub const PREFIX: &'static str = $prefix;
            /// The resource name used in errors, e.g. `"position"`.
            pub const RESOURCE: &'static str = $resource;

            /// Generates a fresh random id.
            #[must_use]
            pub fn new() -> Self {
                Self(format!("{}{}", $prefix, Uuid::new_v4().hyphenated()))
            }

            /// The id derived from `seed` (a create under an `Idempotency-Key`), else a fresh
            /// random id.
            #[must_use]
            pub fn seeded(seed: Option<&IdSeed>) -> Self {
                seed.map_or_else(Self::new, Self::from_seed)
            }

            /// The id derived from `seed`: the same for every attempt of one request.
            #[must_use]
            pub fn from_seed(seed: &IdSeed) -> Self {
                Self(format!("{}{}", $prefix, seed.uuid($prefix).hyphenated()))
            }

            /// Parses and validates an id: the prefix, then a lowercase hyphenated UUID.
            ///
            /// # Errors
            /// [`InvalidId`] when the prefix or the UUID part is wrong.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                if is_valid(value, $prefix) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidId { resource: $resource, value: value.to_owned() })
                }
            }

            /// The id as a string slice.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Default for $name {
            /// A fresh random id, same as [`Self::new`].
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

fn is_valid(value: &str, prefix: &str) -> bool {
    let Some(rest) = value.strip_prefix(prefix) else {
        return false;
    };
    rest.len() == 36
        && Uuid::try_parse(rest).is_ok_and(|uuid| uuid.hyphenated().to_string() == rest)
}

prefixed_id!(
    /// Id of an institution (`inst_`).
    InstitutionId, "inst_", "institution"
);
prefixed_id!(
    /// Id of an asset template (`tmpl_`).
    TemplateId, "tmpl_", "asset template"
);
prefixed_id!(
    /// Id of an asset (`ast_`).
    AssetId, "ast_", "asset"
);
prefixed_id!(
    /// Id of a position (`pos_`).
    PositionId, "pos_", "position"
);
prefixed_id!(
    /// Id of a position lifecycle event (`ple_`).
    LifecycleEventId, "ple_", "position lifecycle event"
);
prefixed_id!(
    /// Id of a ledger event (`led_`).
    LedgerEventId, "led_", "ledger event"
);
prefixed_id!(
    /// Id of an API key record (`ak_`); not the secret token, which shares the prefix.
    ApiKeyId, "ak_", "api key"
);
prefixed_id!(
    /// Id of an audit event (`aud_`).
    AuditEventId, "aud_", "audit event"
);
prefixed_id!(
    /// Id of an institution policy (`pol_`).
    PolicyId, "pol_", "policy"
);
prefixed_id!(
    /// Id of a webhook endpoint (`wh_`).
    WebhookId, "wh_", "webhook"
);
prefixed_id!(
    /// Id of a webhook delivery (`whd_`): one event for one endpoint.
    DeliveryId, "whd_", "webhook delivery"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_id_has_its_prefix_and_parses_back() {
        let id = PositionId::new();
        assert!(id.as_str().starts_with("pos_"));
        assert_eq!(PositionId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(id.to_string().parse::<PositionId>(), Ok(id));
    }

    #[test]
    fn an_id_with_another_prefix_is_rejected() {
        let asset = AssetId::new();
        let err = PositionId::parse(asset.as_str()).unwrap_err();
        assert_eq!(err.resource, "position");
    }

    #[test]
    fn malformed_uuid_parts_are_rejected() {
        for bad in [
            "pos_",
            "pos_123",
            "pos_550E8400-E29B-41D4-A716-446655440000",
            "pos_550e8400e29b41d4a716446655440000",
            "pos_{550e8400-e29b-41d4-a716-446655440000}",
            "pos_550e8400-e29b-41d4-a716-44665544000g",
            "POS_550e8400-e29b-41d4-a716-446655440000",
            " pos_550e8400-e29b-41d4-a716-446655440000",
        ] {
            assert!(PositionId::parse(bad).is_err(), "{bad} must be rejected");
        }
        assert!(PositionId::parse("pos_550e8400-e29b-41d4-a716-446655440000").is_ok());
    }

    #[test]
    fn a_seed_derives_the_same_valid_id_for_the_same_request_only() {
        let seed = IdSeed::derive("root", "key-1", "hash");
        let id = PositionId::seeded(Some(&seed));
        assert_eq!(PositionId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(
            PositionId::seeded(Some(&IdSeed::derive("root", "key-1", "hash"))),
            id
        );
        for other in [
            IdSeed::derive("ak_other", "key-1", "hash"),
            IdSeed::derive("root", "key-2", "hash"),
            IdSeed::derive("root", "key-1", "other hash"),
            // The length prefixes keep the fields apart.
            IdSeed::derive("root", "key-1h", "ash"),
        ] {
            assert_ne!(PositionId::seeded(Some(&other)), id);
        }
        let asset = AssetId::seeded(Some(&seed));
        assert_ne!(&asset.as_str()[4..], &id.as_str()[4..]);
        assert_ne!(PositionId::seeded(None), PositionId::seeded(None));
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = InstitutionId::parse("inst_550e8400-e29b-41d4-a716-446655440000").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"inst_550e8400-e29b-41d4-a716-446655440000\"");
        assert_eq!(serde_json::from_str::<InstitutionId>(&json).unwrap(), id);
    }
}
