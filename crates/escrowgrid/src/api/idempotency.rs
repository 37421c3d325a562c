//! `Idempotency-Key` on every `POST`.
//!
//! - The key is scoped per caller (`root` or the API key id) and must be 1..=255 visible ASCII
//!   characters (else 400 `Invalid Idempotency-Key header`).
//! - The request hash is the SHA-256 of method, path (with query) and body bytes.
//! - A stored response for (caller, key) younger than 24 hours is replayed (status and body,
//!   plus `Idempotency-Replayed: true`) when the hash matches; another request under the same
//!   key is 422 `Idempotency-Key reused with a different request`.
//! - Concurrent requests with the same key on one instance: the first reserves the key in
//!   process, the others get 409 `A request with this Idempotency-Key is in progress` and may
//!   retry. (Across instances the store's first-writer-wins `idempotency_put` keeps one stored
//!   answer, but both requests may execute: a store-level reservation needs a trait method to
//!   complete a reservation, noted as future work.)
//! - Only final answers are stored: 2xx and 4xx except 409 and 429 (a retry may succeed
//!   there); 5xx are not stored either.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::domain::now_millis;
use crate::store::StoredResponse;

use super::auth::AuthContext;
use super::error::ApiError;
use super::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header marking a replayed response.
pub const IDEMPOTENCY_REPLAYED: &str = "idempotency-replayed";
const MAX_KEY_LEN: usize = 255;

/// Keys whose first request is still running in this process.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    keys: Arc<Mutex<HashSet<(String, String)>>>,
}

/// Releases an in-flight reservation when dropped (also on panic or cancellation).
#[derive(Debug)]
struct Reservation {
    keys: Arc<Mutex<HashSet<(String, String)>>>,
    entry: (String, String),
}

impl InFlight {
    fn reserve(&self, scope: &str, key: &str) -> Option<Reservation> {
        let entry = (scope.to_owned(), key.to_owned());
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.insert(entry.clone()).then(|| Reservation {
            keys: Arc::clone(&self.keys),
            entry,
        })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.entry);
    }
}

/// Replays or records `POST` responses carrying an `Idempotency-Key` (after auth and rate
/// limits); other requests go straight to `next`.
pub async fn handle(state: &AppState, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(IDEMPOTENCY_KEY) {
        return next.run(req).await;
    }
    let Some(auth) = req.extensions().get::<AuthContext>().cloned() else {
        return next.run(req).await;
    };
    match run(state, &auth, req, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn run(
    state: &AppState,
    auth: &AuthContext,
    req: Request,
    next: Next,
) -> Result<Response, Response> {
    let key = req
        .headers()
        .get(IDEMPOTENCY_KEY)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|key| valid_key(key))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("Invalid Idempotency-Key header").into_response())?;
    let scope = auth.caller_key();
    let (parts, body) = req.into_parts();
    let limit = state.settings().body_limit_bytes;
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large().into_response())?;
    let target = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
    let hash = request_hash(parts.method.as_str(), target, &bytes);

    if let Some(response) = replay(state, &scope, &key, &hash).await? {
        return Ok(response);
    }
    let Some(_reservation) = state.in_flight().reserve(&scope, &key) else {
        return Err(
            ApiError::conflict("A request with this Idempotency-Key is in progress")
                .into_response(),
        );
    };
    // Another request may have finished between the lookup and the reservation.
    if let Some(response) = replay(state, &scope, &key, &hash).await? {
        return Ok(response);
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !is_final(response.status()) {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.map_err(|err| {
        ApiError::internal(format!("reading response body: {err}")).into_response()
    })?;
    let stored = StoredResponse {
        request_hash: hash,
        status: parts.status.as_u16(),
        body: body.to_vec(),
        created_at: now_millis(),
    };
    if let Err(err) = state.store().idempotency_put(&scope, &key, stored).await {
        tracing::warn!(error = %err, "idempotent response not stored");
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

async fn replay(
    state: &AppState,
    scope: &str,
    key: &str,
    hash: &str,
) -> Result<Option<Response>, Response> {
    let stored = state
        .store()
        .idempotency_get(scope, key)
        .await
        .map_err(|err| ApiError::from(err).into_response())?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    if stored.request_hash != hash {
        return Err(
            ApiError::unprocessable("Idempotency-Key reused with a different request")
                .into_response(),
        );
    }
    Ok(Some(replayed(stored)))
}

fn replayed(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, Bytes::from(stored.body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
    response
}

fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
}

fn is_final(status: StatusCode) -> bool {
    !(status.is_server_error()
        || status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS)
}

fn request_hash(method: &str, target: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(target.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_method_path_and_body() {
        let base = request_hash("POST", "/positions", b"{}");
        assert_ne!(base, request_hash("POST", "/assets", b"{}"));
        assert_ne!(base, request_hash("POST", "/positions", b"{ }"));
        assert_eq!(base, request_hash("POST", "/positions", b"{}"));
    }

    #[test]
    fn a_key_is_reserved_once_until_released() {
        let in_flight = InFlight::default();
        let first = in_flight.reserve("root", "k");
        assert!(first.is_some());
        assert!(in_flight.reserve("root", "k").is_none());
        assert!(in_flight.reserve("ak_other", "k").is_some());
        drop(first);
        assert!(in_flight.reserve("root", "k").is_some());
    }

    #[test]
    fn keys_must_be_short_visible_ascii() {
        assert!(valid_key("abc-123"));
        assert!(!valid_key(""));
        assert!(!valid_key("a b"));
        assert!(!valid_key(&"k".repeat(256)));
    }
}
