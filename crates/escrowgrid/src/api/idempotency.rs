//! `Idempotency-Key` on every `POST`.
//!
//! - The key is scoped per caller (`root` or the API key id) and must be 1..=255 visible ASCII
//!   characters (else 400 `Invalid Idempotency-Key header`).
//! - The request hash is the SHA-256 of method, path (with query) and body bytes.
//! - A stored response for (caller, key) younger than 24 hours is replayed (status and body,
//!   plus `Idempotency-Replayed: true`) when the hash matches; another request under the same
//!   key is 422 `Idempotency-Key reused with a different request`.
//! - Concurrent requests with the same key, on one instance or several sharing the KV store:
//!   the first reserves the key ([`crate::idempotency`], on gridstore KV), the others get 409
//!   `A request with this Idempotency-Key is in progress` and may retry. The reservation's
//!   lease (at least [`IDEMPOTENCY_LEASE`], and twice the request timeout) frees the key of a
//!   crashed instance.
//! - Only final answers are stored: 2xx and 4xx except 409 and 429 (a retry may succeed
//!   there); 5xx are not stored either. For those, and when the request is cancelled
//!   (timeout, client gone) or panics, the reservation is released so a retry runs. A
//!   reservation still being written when the request is cut off is released as soon as the
//!   write answers (see [`crate::idempotency`] on cancellation).
//! - The request's [`IdSeed`] (caller, key, request hash) goes into its [`AuditContext`]: a
//!   create derives its entity's id from it, so a retry after `503 Commit outcome unknown`
//!   finds the entity an earlier attempt committed instead of creating a second one (see
//!   [`super::earlier_attempt`]).

use std::sync::Arc;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::domain::{AuditContext, IdSeed};
use crate::idempotency::{IDEMPOTENCY_LEASE, IdempotencyKeys, Reservation, StoredResponse};

use super::auth::AuthContext;
use super::error::ApiError;
use super::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header marking a replayed response.
pub const IDEMPOTENCY_REPLAYED: &str = "idempotency-replayed";
const MAX_KEY_LEN: usize = 255;

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
    let (mut parts, body) = req.into_parts();
    let limit = state.settings().body_limit_bytes;
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|err| body_read_error(&err).into_response())?;
    let target = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
    let hash = request_hash(parts.method.as_str(), target, &bytes);

    let lease = IDEMPOTENCY_LEASE.max(state.settings().request_timeout.saturating_mul(2));
    let keys = IdempotencyKeys::new(Arc::clone(state.kv()));
    let reservation = keys
        .reserve(&scope, &key, &hash, lease)
        .await
        .map_err(|err| ApiError::from(err).into_response())?;
    let held = match reservation {
        Reservation::Reserved(held) => held,
        Reservation::Replay(stored) => return Ok(replayed(stored)),
        Reservation::Mismatch => {
            return Err(
                ApiError::unprocessable("Idempotency-Key reused with a different request")
                    .into_response(),
            );
        }
        Reservation::InProgress => {
            return Err(
                ApiError::conflict("A request with this Idempotency-Key is in progress")
                    .into_response(),
            );
        }
    };
    // A create under this key derives its entity's id from the seed, so a retry after an
    // unknown commit outcome finds what an earlier attempt committed (`earlier_attempt`).
    if let Some(audit) = parts.extensions.get_mut::<AuditContext>() {
        audit.id_seed = Some(IdSeed::derive(&scope, &key, &hash));
    }
    // Cancelled from here on (timeout, client gone), `held` is dropped and released.
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !is_final(response.status()) {
        held.release().await;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.map_err(|err| {
        ApiError::internal(format!("reading response body: {err}")).into_response()
    })?;
    match std::str::from_utf8(&body) {
        Ok(text) => {
            let stored = StoredResponse {
                status: parts.status.as_u16(),
                body: text.to_owned(),
            };
            held.complete(stored).await;
        }
        Err(_) => {
            tracing::warn!("idempotent response not stored: its body is not utf-8");
            held.release().await;
        }
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// 413 when the body is over the limit; 400 `Failed to read request body` when reading it
/// failed otherwise (a malformed chunked encoding, the client gone), as without a key.
fn body_read_error(err: &axum::Error) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return ApiError::payload_too_large();
        }
        cause = error.source();
    }
    ApiError::bad_request("Failed to read request body")
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

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_and_a_broken_body_is_400() {
        let over = to_bytes(Body::from("0123456789"), 4)
            .await
            .expect_err("over the limit");
        assert_eq!(
            body_read_error(&over).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let broken = Body::from_stream(futures_util::stream::iter([Err::<Bytes, _>(
            std::io::Error::other("malformed chunk"),
        )]));
        let broken = to_bytes(broken, 1024).await.expect_err("broken body");
        assert_eq!(body_read_error(&broken).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn keys_must_be_short_visible_ascii() {
        assert!(valid_key("abc-123"));
        assert!(!valid_key(""));
        assert!(!valid_key("a b"));
        assert!(!valid_key(&"k".repeat(256)));
    }
}
