//! libpq's `sslmode` and `sslrootcert`: the mode enum, and taking both out of a connection
//! string before the driver (which knows only `disable`, `prefer` and `require`) parses it.

use std::str::FromStr;

use crate::{Error, Result};

/// Whether and how a connection uses TLS, with libpq's names and defaults; see
/// [`PgTls`](crate::postgres::tls::PgTls) for what each mode verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Use TLS when the server offers it, plain TCP otherwise (libpq's default).
    #[default]
    Prefer,
    /// Always use TLS; the certificate is checked only when a root certificate is configured.
    Require,
    /// Always use TLS and check the certificate chain against the root certificate.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    /// libpq's name of the mode (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(Error::Config(format!(
                    "invalid sslmode {other:?} (expected disable, prefer, require, verify-ca or verify-full)"
                )));
            }
        })
    }
}

/// The TLS parameters taken out of a connection string.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SslParams {
    pub(super) mode: Option<SslMode>,
    pub(super) root_cert: Option<String>,
}

/// Splits `sslmode` and `sslrootcert` off a `postgres://` URL or a `key=value` string and
/// returns the rest for the driver.
pub(super) fn take_ssl_params(url: &str) -> Result<(String, SslParams)> {
    let mut params = SslParams::default();
    let mut keep = |key: &str, value: String| -> Result<bool> {
        match key {
            "sslmode" => params.mode = Some(value.parse()?),
            "sslrootcert" => params.root_cert = Some(value),
            _ => return Ok(true),
        }
        Ok(false)
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), params));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if keep(key, percent_decode(value)?)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for (key, value, text) in key_values(url)? {
            if keep(&key, value)? {
                kept.push(text);
            }
        }
        kept.join(" ")
    };
    Ok((rest, params))
}

/// Decodes `%XX` escapes (and `+` stays `+`, as in libpq).
fn percent_decode(value: &str) -> Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| Error::Config("invalid percent escape in database url".into()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::Config("database url is not valid utf-8".into()))
}

/// The `key = value` pairs of a libpq connection string: key, unquoted value, original text.
fn key_values(text: &str) -> Result<Vec<(String, String, &str)>> {
    let invalid = || Error::Config("invalid connection string".to_owned());
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let start = text.len() - rest.len();
        let eq = rest.find('=').ok_or_else(invalid)?;
        let key = rest[..eq].trim().to_owned();
        rest = rest[eq + 1..].trim_start();
        let value_start = text.len() - rest.len();
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let mut end = rest.len();
        if rest.starts_with('\'') {
            chars.next();
            let mut closed = false;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().ok_or_else(invalid)?.1),
                    '\'' => {
                        end = i + 1;
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(invalid());
            }
        } else {
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().ok_or_else(invalid)?.1),
                    c if c.is_whitespace() => {
                        end = i;
                        break;
                    }
                    c => value.push(c),
                }
            }
        }
        pairs.push((key, value, &text[start..value_start + end]));
        rest = rest[end..].trim_start();
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parameters_other_than_tls_ones_are_kept_in_order() {
        let (rest, params) = take_ssl_params(
            "postgres://u@h/db?application_name=a&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&connect_timeout=3",
        )
        .expect("parses");
        assert_eq!(
            rest,
            "postgres://u@h/db?application_name=a&connect_timeout=3"
        );
        assert_eq!(params.mode, Some(SslMode::VerifyFull));
        assert_eq!(params.root_cert.as_deref(), Some("/tmp/ca.pem"));
    }

    #[test]
    fn a_url_with_only_tls_parameters_loses_its_question_mark() {
        let (rest, _) = take_ssl_params("postgres://u@h/db?sslmode=require").expect("parses");
        assert_eq!(rest, "postgres://u@h/db");
    }

    #[test]
    fn key_value_strings_keep_quoted_values_of_other_keys() {
        let (rest, params) = take_ssl_params(
            "host=h password='a b\\'c' sslmode=verify-ca sslrootcert='/my certs/ca.pem' dbname=d",
        )
        .expect("parses");
        assert_eq!(rest, "host=h password='a b\\'c' dbname=d");
        assert_eq!(params.mode, Some(SslMode::VerifyCa));
        assert_eq!(params.root_cert.as_deref(), Some("/my certs/ca.pem"));
    }

    #[test]
    fn an_unknown_sslmode_is_a_config_error_naming_the_valid_ones() {
        let err = take_ssl_params("postgres://h/db?sslmode=always").expect_err("rejected");
        assert!(err.to_string().contains("verify-full"), "{err}");
    }
}
