//! Request extractors whose rejections use the API's JSON error shape.
//!
//! - [`JsonBody`]: `Content-Type` must be JSON when a body is sent (else 415); an empty body is
//!   read as `{}` so that validation can list every missing field; a body over the limit is
//!   413; malformed JSON is 400 `Invalid JSON body` with the parser's position in `details`; a
//!   body of the wrong JSON type (not an object) is 400 `Validation failed`.
//! - Every JSON body is checked before it is parsed ([`body_check`]): a duplicate key anywhere
//!   (nested too) or a NUL character (`\u0000`, which PostgreSQL text and jsonb cannot store)
//!   in any string or key is 400 `Validation failed` naming the field, on every backend alike.
//! - [`QueryMap`]: the query string as a map (the last value of a repeated key wins); a NUL in
//!   a key or value is 400 `Validation failed` naming the parameter.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::domain::FieldError;

use super::error::ApiError;

pub mod body_check;

/// A JSON request body parsed into `T` (use tolerant shapes and validate afterwards).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type_ok = is_json_content_type(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(),
                _ => ApiError::bad_request("Failed to read request body"),
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return parse_json(b"{}").map(JsonBody);
        }
        if !content_type_ok {
            return Err(ApiError::unsupported_media_type());
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON document, mapping failures to the API's error shape.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(Some(defect)) = body_check::check(bytes) {
        return Err(ApiError::validation(vec![defect]));
    }
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => {
            ApiError::validation(vec![FieldError::new("", err.to_string())])
        }
        _ => ApiError::bad_request("Invalid JSON body").with_details(err.to_string()),
    })
}

fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The query string as a map from key to (last) value.
#[derive(Debug, Clone, Default)]
pub struct QueryMap(pub HashMap<String, String>);

impl QueryMap {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::bad_request("Invalid query string"))?;
        let defects: Vec<FieldError> = pairs
            .iter()
            .filter(|(key, value)| key.contains('\0') || value.contains('\0'))
            .map(|(key, _)| FieldError::new(body_check::printable(key), body_check::NUL_MESSAGE))
            .collect();
        if !defects.is_empty() {
            return Err(ApiError::validation(defects));
        }
        Ok(Self(pairs.into_iter().collect()))
    }
}
