//! Endpoint URLs: parsed into what a client needs; SSRF is decided elsewhere.

use super::MAX_URL_BYTES;

/// A syntactically valid endpoint URL, split into the parts a client needs.
///
/// Accepted: `http` or `https`, a host (name, IPv4 or bracketed IPv6), an optional port, a
/// path and query. Refused: user info (`user@`), fragments, whitespace and control characters,
/// more than [`MAX_URL_BYTES`]. Whether the host may be called (SSRF) is decided elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// `true` for `https`.
    pub tls: bool,
    /// The host without brackets (`::1` for `[::1]`), lowercase.
    pub host: String,
    /// The port (the scheme's default when absent).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

impl WebhookUrl {
    /// Parses a URL.
    ///
    /// # Errors
    /// A lowercase message saying what is wrong.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.len() > MAX_URL_BYTES {
            return Err(format!("URL must not exceed {MAX_URL_BYTES} bytes"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.contains('#') {
            return Err("URL must not contain whitespace, control characters or a fragment".into());
        }
        let lower = url.to_ascii_lowercase();
        let (tls, rest) = if lower.starts_with("https://") {
            (true, &url["https://".len()..])
        } else if lower.starts_with("http://") {
            (false, &url["http://".len()..])
        } else {
            return Err("URL must use http or https".into());
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err("URL must not contain user info".into());
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(port) => port,
            None if tls => 443,
            None => 80,
        };
        let path_and_query = if path.starts_with('?') {
            format!("/{path}")
        } else if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
        Ok(Self {
            tls,
            host: host.to_ascii_lowercase(),
            port,
            path_and_query,
        })
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "URL has an unterminated IPv6 address".to_owned())?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("URL has an invalid IPv6 address".into());
        }
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or("URL has an invalid port")?),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && (authority.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
    if !valid_name {
        return Err("URL must have a valid host".into());
    }
    let port = match port {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err("URL has an invalid port".into()),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_host_port_and_path() {
        let url = WebhookUrl::parse("HTTPS://Hooks.Example.com/in?x=1").unwrap();
        assert_eq!(
            (
                url.tls,
                url.host.as_str(),
                url.port,
                url.path_and_query.as_str()
            ),
            (true, "hooks.example.com", 443, "/in?x=1")
        );
        let url = WebhookUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path_and_query.as_str()),
            ("::1", 8080, "/")
        );
        assert_eq!(
            WebhookUrl::parse("http://10.0.0.1?q")
                .unwrap()
                .path_and_query,
            "/?q"
        );
    }

    #[test]
    fn urls_with_other_schemes_user_info_or_bad_ports_are_refused() {
        for bad in [
            "ftp://example.com",
            "example.com/hook",
            "http://user:pw@example.com/",
            "http://example.com:0/",
            "http://example.com:99999/",
            "http://exa mple.com/",
            "http:///path",
            "http://example.com/#frag",
            "http://[::1/",
            "http://ex_ample.com/",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
