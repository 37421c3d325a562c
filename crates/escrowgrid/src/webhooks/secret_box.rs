//! Sealing signing secrets for storage.
//!
//! The dispatcher must sign with the secret, so it cannot be stored as a one-way hash. With
//! `WEBHOOKS_SECRET_KEY` (base64 of 32 bytes) secrets are stored as AES-256-GCM ciphertext
//! `enc:v1:<base64(nonce || ciphertext || tag)>`, bound to the endpoint id (associated data),
//! so a database dump, backup or replica alone does not reveal them and a sealed value copied
//! onto another endpoint's row does not open. Without the key they are stored as the plain
//! `whsec_...` text, in a column that no API read returns and no log prints. Changing the key
//! makes the stored secrets unreadable (deliveries then fail until the secrets are rotated).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::domain::{WebhookId, WebhookSecret};

const SEALED_PREFIX: &str = "enc:v1:";

/// Seals and opens stored secrets; `Debug` never shows the key.
#[derive(Clone, Default)]
pub struct SecretBox {
    key: Option<std::sync::Arc<LessSafeKey>>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBox")
            .field("encrypting", &self.key.is_some())
            .finish()
    }
}

impl SecretBox {
    /// Stores secrets as plain text (no `WEBHOOKS_SECRET_KEY`).
    #[must_use]
    pub fn plain() -> Self {
        Self::default()
    }

    /// Encrypts with the key given as base64 of 32 bytes.
    ///
    /// # Errors
    /// When the text is not base64 of exactly 32 bytes.
    pub fn from_base64_key(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "WEBHOOKS_SECRET_KEY must be base64".to_owned())?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| "WEBHOOKS_SECRET_KEY must decode to 32 bytes".to_owned())?;
        Ok(Self {
            key: Some(std::sync::Arc::new(LessSafeKey::new(key))),
        })
    }

    /// The text to store for `secret` of endpoint `id`.
    ///
    /// # Errors
    /// When the system random source fails.
    pub fn seal(&self, id: &WebhookId, secret: &WebhookSecret) -> Result<String, String> {
        let Some(key) = &self.key else {
            return Ok(secret.expose().to_owned());
        };
        let mut nonce = [0_u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| "random source failed".to_owned())?;
        let mut data = secret.expose().as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(id.as_str().as_bytes()),
            &mut data,
        )
        .map_err(|_| "cannot seal webhook secret".to_owned())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(out)))
    }

    /// The secret stored as `sealed` for endpoint `id`.
    ///
    /// # Errors
    /// When it is sealed but no (or another) key is configured, or it is malformed.
    pub fn open(&self, id: &WebhookId, sealed: &str) -> Result<WebhookSecret, String> {
        let Some(encoded) = sealed.strip_prefix(SEALED_PREFIX) else {
            return WebhookSecret::parse(sealed.to_owned());
        };
        let key = self.key.as_ref().ok_or_else(|| {
            "webhook secret is encrypted but no WEBHOOKS_SECRET_KEY is set".to_owned()
        })?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| "sealed webhook secret is not base64".to_owned())?;
        if bytes.len() < NONCE_LEN {
            return Err("sealed webhook secret is too short".into());
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| "sealed webhook secret has a bad nonce".to_owned())?;
        let mut data = data.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(id.as_str().as_bytes()), &mut data)
            .map_err(|_| "webhook secret does not open with WEBHOOKS_SECRET_KEY".to_owned())?;
        let text = String::from_utf8(plain.to_vec())
            .map_err(|_| "webhook secret is not text".to_owned())?;
        WebhookSecret::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        STANDARD.encode([7_u8; 32])
    }

    #[test]
    fn a_sealed_secret_opens_for_its_endpoint_only() {
        let sealer = SecretBox::from_base64_key(&key()).unwrap();
        let id = WebhookId::new();
        let secret = WebhookSecret::generate();
        let sealed = sealer.seal(&id, &secret).unwrap();
        assert!(sealed.starts_with("enc:v1:"));
        assert!(!sealed.contains(secret.expose()));
        assert_eq!(sealer.open(&id, &sealed).unwrap(), secret);
        assert!(sealer.open(&WebhookId::new(), &sealed).is_err());
        assert!(SecretBox::plain().open(&id, &sealed).is_err());
    }

    #[test]
    fn without_a_key_secrets_are_stored_as_they_are() {
        let id = WebhookId::new();
        let secret = WebhookSecret::generate();
        let sealed = SecretBox::plain().seal(&id, &secret).unwrap();
        assert_eq!(sealed, secret.expose());
        assert_eq!(SecretBox::plain().open(&id, &sealed).unwrap(), secret);
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(SecretBox::from_base64_key("not base64!").is_err());
        assert!(SecretBox::from_base64_key(&STANDARD.encode([1_u8; 16])).is_err());
        assert!(!format!("{:?}", SecretBox::from_base64_key(&key()).unwrap()).contains(&key()));
    }
}
