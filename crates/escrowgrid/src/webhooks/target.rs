//! Which addresses a webhook may call (SSRF protection) and the resolver seam.
//!
//! Refused unless `WEBHOOKS_ALLOW_PRIVATE_TARGETS=true`: loopback, unspecified, link-local,
//! private (RFC 1918), shared/CGNAT (100.64.0.0/10), "this network" (0.0.0.0/8), broadcast,
//! multicast, IPv6 unique-local (fc00::/7) and IPv4-mapped / -compatible IPv6 addresses.
//! The check runs when an endpoint is created or its URL changed (every address the name
//! resolves to must be allowed) and again on every attempt: the name is resolved once, the
//! first allowed address is checked and the connection goes to exactly that address, so a DNS
//! answer that changes between the check and the connect (rebinding) cannot redirect it.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::WebhookUrl;

/// Resolves host names (a seam: tests answer with fixed addresses).
#[async_trait]
pub trait Resolver: Send + Sync + fmt::Debug + 'static {
    /// Every address of `host` (a name or an IP literal) at `port`.
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The system resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// Why a target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The host does not resolve.
    #[error("host {host} cannot be resolved: {message}")]
    Unresolvable {
        /// The host.
        host: String,
        /// The resolver's message.
        message: String,
    },
    /// The host resolves to an address webhooks may not call.
    #[error("host {host} resolves to {ip}, a {kind} address")]
    Forbidden {
        /// The host.
        host: String,
        /// The refused address.
        ip: IpAddr,
        /// What kind of address it is.
        kind: &'static str,
    },
}

/// The SSRF policy plus the resolver it checks with.
#[derive(Debug, Clone)]
pub struct TargetPolicy {
    allow_private: bool,
    resolver: Arc<dyn Resolver>,
}

impl TargetPolicy {
    /// A policy over the system resolver.
    #[must_use]
    pub fn new(allow_private: bool) -> Self {
        Self::with_resolver(allow_private, Arc::new(SystemResolver))
    }

    /// A policy over another resolver.
    #[must_use]
    pub fn with_resolver(allow_private: bool, resolver: Arc<dyn Resolver>) -> Self {
        Self {
            allow_private,
            resolver,
        }
    }

    /// Checks an endpoint URL at create / update time: every resolved address must be allowed
    /// (nothing is resolved when private targets are allowed).
    ///
    /// # Errors
    /// [`TargetError`] naming the first refused address, or the resolver's failure.
    pub async fn check_all(&self, url: &WebhookUrl) -> Result<(), TargetError> {
        if self.allow_private {
            // Every address is allowed; whether the name resolves is the receiver's business.
            return Ok(());
        }
        let addrs = self.resolve(url).await?;
        for addr in &addrs {
            self.allowed(&url.host, addr.ip())?;
        }
        Ok(())
    }

    /// Resolves once and returns the address an attempt connects to: the first allowed one.
    ///
    /// # Errors
    /// [`TargetError`] when none is allowed (naming the first) or resolution fails.
    pub async fn connect_addr(&self, url: &WebhookUrl) -> Result<SocketAddr, TargetError> {
        let addrs = self.resolve(url).await?;
        let mut first_error = None;
        for addr in addrs {
            match self.allowed(&url.host, addr.ip()) {
                Ok(()) => return Ok(addr),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| TargetError::Unresolvable {
            host: url.host.clone(),
            message: "no addresses".into(),
        }))
    }

    async fn resolve(&self, url: &WebhookUrl) -> Result<Vec<SocketAddr>, TargetError> {
        let addrs = self
            .resolver
            .resolve(&url.host, url.port)
            .await
            .map_err(|err| TargetError::Unresolvable {
                host: url.host.clone(),
                message: err.to_string(),
            })?;
        if addrs.is_empty() {
            return Err(TargetError::Unresolvable {
                host: url.host.clone(),
                message: "no addresses".into(),
            });
        }
        Ok(addrs)
    }

    fn allowed(&self, host: &str, ip: IpAddr) -> Result<(), TargetError> {
        match forbidden_kind(ip) {
            Some(kind) if !self.allow_private => Err(TargetError::Forbidden {
                host: host.to_owned(),
                ip,
                kind,
            }),
            _ => Ok(()),
        }
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
#[must_use]
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (CGNAT)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() || a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.to_ipv4_mapped().is_some() {
        Some("IPv4-mapped")
    } else if ip.segments()[..6].iter().all(|s| *s == 0) {
        Some("IPv4-compatible")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_and_public_ones_allowed() {
        for internal in [
            "127.0.0.1",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(forbidden_kind(ip).is_some(), "{internal} must be refused");
        }
        for public in ["8.8.8.8", "100.128.0.1", "172.32.0.1", "2606:4700::1111"] {
            let ip: IpAddr = public.parse().unwrap();
            assert_eq!(forbidden_kind(ip), None, "{public} must be allowed");
        }
    }

    #[tokio::test]
    async fn allowing_private_targets_lets_loopback_through() {
        let url = WebhookUrl::parse("http://127.0.0.1:9/").unwrap();
        assert!(TargetPolicy::new(false).check_all(&url).await.is_err());
        assert!(TargetPolicy::new(true).check_all(&url).await.is_ok());
    }
}
