//! API key secret tokens: `ak_` + 48 lowercase hex characters; only their SHA-256 is stored.

use sha2::{Digest, Sha256};

/// The prefix of every secret token (shared with [`super::ApiKeyId`]).
pub const TOKEN_PREFIX: &str = "ak_";

/// Generates a fresh secret token from 24 random bytes.
#[must_use]
pub fn generate_token() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The lowercase hex SHA-256 of a token: the only form in which a token is stored.
#[must_use]
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_lowercase_hex_of_24_bytes() {
        let token = generate_token();
        let hex_part = token.strip_prefix("ak_").unwrap();
        assert_eq!(hex_part.len(), 48);
        assert!(
            hex_part
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_ne!(token, generate_token());
    }

    #[test]
    fn the_hash_is_the_sha256_hex_of_the_token() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
