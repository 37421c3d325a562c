//! The client address used for the root-key allow-list, the audit trail and logs.
//!
//! - With `TRUST_PROXY=true`, the first entry of `X-Forwarded-For` wins when it parses as an
//!   IP address (the original trusted that header unconditionally, which let anyone bypass the
//!   root-key allow-list).
//! - Otherwise the socket peer address from `ConnectInfo<SocketAddr>` (present when the server
//!   runs with `into_make_service_with_connect_info::<SocketAddr>()`).
//! - Otherwise (e.g. `Router::oneshot` in tests with no `ConnectInfo`) the address is unknown:
//!   it is recorded as absent and never matches the root-key allow-list.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are canonicalised to IPv4.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// Determines the client address of a request, see the module docs.
pub fn client_ip(parts: &Parts, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .and_then(|first| first.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return Some(ip.to_canonical());
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(forwarded: Option<&str>, peer: Option<&str>) -> Parts {
        let mut builder = Request::builder().uri("/");
        if let Some(value) = forwarded {
            builder = builder.header("x-forwarded-for", value);
        }
        let (mut parts, ()) = builder.body(()).expect("request").into_parts();
        if let Some(peer) = peer {
            let addr: SocketAddr = peer.parse().expect("socket address");
            parts.extensions.insert(ConnectInfo(addr));
        }
        parts
    }

    #[test]
    fn the_forwarded_header_is_ignored_without_trust_proxy() {
        let parts = parts(Some("1.2.3.4"), Some("10.0.0.1:5000"));
        assert_eq!(
            client_ip(&parts, false),
            Some("10.0.0.1".parse().expect("ip"))
        );
    }

    #[test]
    fn the_first_forwarded_entry_wins_with_trust_proxy() {
        let parts = parts(Some(" 1.2.3.4 , 5.6.7.8"), Some("10.0.0.1:5000"));
        assert_eq!(
            client_ip(&parts, true),
            Some("1.2.3.4".parse().expect("ip"))
        );
    }

    #[test]
    fn an_ipv4_mapped_peer_is_canonicalised() {
        let parts = parts(None, Some("[::ffff:127.0.0.1]:80"));
        assert_eq!(
            client_ip(&parts, false),
            Some("127.0.0.1".parse().expect("ip"))
        );
    }

    #[test]
    fn without_connect_info_the_address_is_unknown() {
        assert_eq!(client_ip(&parts(Some("1.2.3.4"), None), false), None);
    }
}
