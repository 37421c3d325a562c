//! The single route table: it builds the router and the OpenAPI document, so the two cannot
//! drift apart.

use std::collections::BTreeMap;

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;
use serde_json::Value;

use super::state::AppState;
use super::{
    api_keys, asset_templates, assets, audit, events, health, institutions, ledger, me, metrics,
    onchain, openapi, policies, positions, webhooks,
};

/// One (method, path) of the API, its handler and its OpenAPI operation.
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The axum path template (`/positions/{id}`), also the OpenAPI path.
    pub path: &'static str,
    /// The handler, e.g. `get(list)`.
    pub handler: MethodRouter<AppState>,
    /// Builds the OpenAPI operation object.
    pub doc: fn() -> Value,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Every route of the API.
pub fn all() -> Vec<Route> {
    [
        health::routes(),
        me::routes(),
        institutions::routes(),
        api_keys::routes(),
        policies::routes(),
        asset_templates::routes(),
        assets::routes(),
        positions::routes(),
        ledger::routes(),
        onchain::routes(),
        audit::routes(),
        events::routes(),
        webhooks::routes(),
        metrics::routes(),
        openapi::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The (method, path) pairs of every route, for tests and documentation.
pub fn route_list() -> Vec<(Method, &'static str)> {
    all()
        .into_iter()
        .map(|route| (route.method, route.path))
        .collect()
}

/// Whether `path` matches a route of the table (a `{param}` segment matches any non-empty
/// segment) or lies under the console, whatever the method.
pub fn is_known_path(path: &str) -> bool {
    static TEMPLATES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut paths: Vec<&'static str> = all().into_iter().map(|route| route.path).collect();
        paths.dedup();
        paths
    });
    if path == "/console" || path.starts_with("/console/") {
        return true;
    }
    TEMPLATES.iter().any(|template| {
        let mut wanted = template.split('/');
        let mut given = path.split('/');
        loop {
            match (wanted.next(), given.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    })
}

/// Builds the routing part of the router (no middleware) from [`all`].
pub fn build() -> Router<AppState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for route in all() {
        let merged = match by_path.remove(route.path) {
            Some(existing) => existing.merge(route.handler),
            None => route.handler,
        };
        by_path.insert(route.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
}

/// A `201 Created` JSON answer.
pub fn created<T>(value: T) -> (axum::http::StatusCode, axum::Json<T>) {
    (axum::http::StatusCode::CREATED, axum::Json(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_builds_a_router_without_overlaps() {
        let _router = build();
    }

    #[test]
    fn known_paths_match_templates_segment_by_segment() {
        assert!(is_known_path("/positions"));
        assert!(is_known_path("/positions/pos_x/transition"));
        assert!(is_known_path("/console/abc/app.js"));
        assert!(!is_known_path("/positions/"));
        assert!(!is_known_path("/no-such-route"));
        assert!(!is_known_path("/positions/pos_x/unknown"));
    }

    #[test]
    fn every_route_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for (method, path) in route_list() {
            assert!(
                seen.insert((method.clone(), path)),
                "duplicate route {method} {path}"
            );
        }
    }
}
