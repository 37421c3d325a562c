//! `/console`: the operator and institution console, a few hand-written ES modules, HTML and
//! CSS embedded in the binary (no CDN, no build step; the sources are in `console/`).
//!
//! - `GET /console` (and `/console/`): the page, `Cache-Control: no-cache`; it names its assets
//!   under the build hash, so a new binary never mixes with cached old files.
//! - `GET /console/{hash}/{file}`: an asset, `immutable` for a year (its URL changes with its
//!   content); any other path under `/console/` is the JSON 404 (never a 401).
//!
//! The console's files are public (they hold no data); every data call the page makes sends
//! the user's API key. Every answer carries a strict Content-Security-Policy ([`CSP`]): no
//! inline script or style, no `eval`, no framing. With `CONSOLE_ENABLED=false` every
//! `/console` path answers the JSON 404.
//!
//! These routes sit outside the per-route gate (no auth, no rate limit) but inside the outer
//! frame (request id, security headers, logs, metrics).

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{MatchedPath, Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::state::AppState;

/// The Content-Security-Policy of every console answer.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

const JS: &str = "text/javascript; charset=utf-8";

/// Every embedded file: path under the build hash, content type, bytes.
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
    ("app.js", JS, include_str!("../../console/app.js")),
    ("api.js", JS, include_str!("../../console/api.js")),
    ("contract.js", JS, include_str!("../../console/contract.js")),
    ("dom.js", JS, include_str!("../../console/dom.js")),
    ("errors.js", JS, include_str!("../../console/errors.js")),
    ("live.js", JS, include_str!("../../console/live.js")),
    (
        "views/institutions.js",
        JS,
        include_str!("../../console/views/institutions.js"),
    ),
    (
        "views/templates.js",
        JS,
        include_str!("../../console/views/templates.js"),
    ),
    (
        "views/positions.js",
        JS,
        include_str!("../../console/views/positions.js"),
    ),
    (
        "views/position.js",
        JS,
        include_str!("../../console/views/position.js"),
    ),
    (
        "views/records.js",
        JS,
        include_str!("../../console/views/records.js"),
    ),
    (
        "views/webhooks.js",
        JS,
        include_str!("../../console/views/webhooks.js"),
    ),
];

const INDEX_TEMPLATE: &str = include_str!("../../console/index.html");

/// The hash of every embedded file (first 16 hex digits of a SHA-256 over names and bytes).
pub static BUILD_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for (name, _, body) in ASSETS.iter().chain([&("index.html", "", INDEX_TEMPLATE)]) {
        digest.update(name.as_bytes());
        digest.update([0]);
        digest.update(body.as_bytes());
        digest.update([0]);
    }
    hex::encode(digest.finalize())[..16].to_owned()
});

/// The page with its asset URLs under [`BUILD_HASH`].
pub static INDEX: LazyLock<String> =
    LazyLock::new(|| INDEX_TEMPLATE.replace("{{BASE}}", &format!("/console/{}", *BUILD_HASH)));

/// The console routes (outside the gate, see the module docs).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{*path}", get(asset))
}

async fn index(State(state): State<AppState>, matched: MatchedPath) -> Response {
    if !state.settings().console_enabled {
        return ApiError::route_not_found().into_response();
    }
    respond(
        matched,
        "text/html; charset=utf-8",
        "no-cache",
        INDEX.as_str(),
    )
}

/// `<build hash>/<file>`; anything else under `/console/` is the JSON 404 (never the auth
/// gate's 401: the console's paths are public).
async fn asset(
    State(state): State<AppState>,
    matched: MatchedPath,
    Path(path): Path<String>,
) -> Response {
    let found = path
        .split_once('/')
        .filter(|(hash, _)| *hash == BUILD_HASH.as_str())
        .and_then(|(_, file)| ASSETS.iter().find(|(name, _, _)| *name == file));
    match found {
        Some((_, content_type, body)) if state.settings().console_enabled => respond(
            matched,
            content_type,
            "public, max-age=31536000, immutable",
            body,
        ),
        _ => ApiError::route_not_found().into_response(),
    }
}

fn respond(
    matched: MatchedPath,
    content_type: &'static str,
    cache: &'static str,
    body: &str,
) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
        ],
        body.to_owned(),
    )
        .into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", *BUILD_HASH)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response.extensions_mut().insert(matched);
    response
}
