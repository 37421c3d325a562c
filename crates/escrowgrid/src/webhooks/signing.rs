//! Standard Webhooks 1.0 signatures and message bodies.
//!
//! `webhook-signature: v1,<base64 HMAC-SHA256>` over `"{webhook-id}.{webhook-timestamp}.{body}"`,
//! keyed with the base64-decoded part of the secret after `whsec_`. The body is
//! `{"type", "timestamp", "data"}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use serde_json::{Value, json};

use crate::domain::WebhookSecret;

/// The `webhook-signature` value for one attempt.
///
/// # Errors
/// When the secret is malformed.
pub fn sign(
    secret: &WebhookSecret,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, String> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret.key()?);
    let mut context = hmac::Context::with_key(&key);
    context.update(message_id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    Ok(format!("v1,{}", STANDARD.encode(context.sign().as_ref())))
}

/// The body of a delivery: the event's type, its occurrence time and its data.
#[must_use]
pub fn body(event_type: &str, occurred_at: &str, data: &Value) -> Vec<u8> {
    let body = json!({"type": event_type, "timestamp": occurred_at, "data": data});
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_test_vector() {
        // The reference libraries' test vector (standard-webhooks, spec examples).
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()).unwrap();
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
