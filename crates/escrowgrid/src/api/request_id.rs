//! Request ids: taken from `X-Request-Id` (or `X-Correlation-Id`) after trimming, else a fresh
//! UUID v4; stored in the request extensions and echoed as `X-Request-Id` on every response.
//!
//! An incoming value is only accepted when it is 1..=128 visible ASCII characters, so a
//! hostile header cannot inject anything into logs or the audit trail.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

const MAX_LEN: usize = 128;

/// The id of the current request (also an extractor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of a request: the acceptable incoming header value, else a fresh UUID v4.
pub fn request_id_for(headers: &HeaderMap) -> String {
    incoming_id(headers).unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn incoming_id(headers: &HeaderMap) -> Option<String> {
    [&X_REQUEST_ID, &X_CORRELATION_ID]
        .into_iter()
        .filter_map(|name| headers.get(name))
        .filter_map(|value| value.to_str().ok())
        .map(str::trim)
        .find(|value| is_acceptable(value))
        .map(str::to_owned)
}

fn is_acceptable(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_LEN && value.bytes().all(|b| b.is_ascii_graphic())
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_request_id_header_is_trimmed_and_preferred_over_the_correlation_id() {
        let mut headers = HeaderMap::new();
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static("  abc-1  "));
        headers.insert(&X_CORRELATION_ID, HeaderValue::from_static("corr"));
        assert_eq!(incoming_id(&headers).as_deref(), Some("abc-1"));
    }

    #[test]
    fn a_correlation_id_is_used_when_the_request_id_is_blank() {
        let mut headers = HeaderMap::new();
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static("   "));
        headers.insert(&X_CORRELATION_ID, HeaderValue::from_static("corr-7"));
        assert_eq!(incoming_id(&headers).as_deref(), Some("corr-7"));
    }

    #[test]
    fn an_overlong_or_spaced_id_is_replaced() {
        let mut headers = HeaderMap::new();
        let long = "x".repeat(MAX_LEN + 1);
        headers.insert(
            &X_REQUEST_ID,
            HeaderValue::from_str(&long).expect("valid header"),
        );
        assert_eq!(incoming_id(&headers), None);
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static("a b"));
        assert_eq!(incoming_id(&headers), None);
    }
}
