//! TLS for every PostgreSQL connection (pool, LISTEN connection, migrations): rustls on the
//! `ring` provider, no OpenSSL.
//!
//! [`PgTls`] implements the driver's `MakeTlsConnect` with the verification libpq applies for
//! each [`SslMode`]:
//!
//! | mode | TLS | certificate chain checked against `sslrootcert` | host name checked |
//! |---|---|---|---|
//! | `disable` | never | – | – |
//! | `prefer` (default) | when the server offers it, else plain | only when `sslrootcert` is set | no |
//! | `require` | always | only when `sslrootcert` is set (as libpq) | no |
//! | `verify-ca` | always | yes (`sslrootcert` required) | no |
//! | `verify-full` | always | yes (`sslrootcert` required) | yes |
//!
//! Without an `sslrootcert`, `prefer` and `require` encrypt but accept any certificate, as
//! libpq does: that protects against passive eavesdropping only. With one, both behave like
//! `verify-ca` (libpq's rule for a present root certificate file). SCRAM channel binding is
//! not offered (`channel_binding=prefer` then authenticates without it).

use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::SslMode;
use crate::{Error, Result};

/// The TLS connector of a [`PgConfig`](super::PgConfig); cheap to clone.
#[derive(Clone)]
pub struct PgTls {
    config: Arc<ClientConfig>,
    check_host_name: bool,
}

impl fmt::Debug for PgTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTls")
            .field("check_host_name", &self.check_host_name)
            .finish_non_exhaustive()
    }
}

impl PgTls {
    /// Builds the connector for `mode`, reading the root certificates from `root_cert` (PEM).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `verify-ca` or `verify-full` has no root certificate file, or the
    /// file cannot be read or holds no certificate.
    pub fn new(mode: SslMode, root_cert: Option<&Path>) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::Config(format!("tls setup failed: {err}")))?;
        let roots = root_cert.map(read_roots).transpose()?;
        let roots = match (mode, roots) {
            (SslMode::VerifyFull, Some(roots)) => {
                let config = builder.with_root_certificates(roots).with_no_client_auth();
                return Ok(Self {
                    config: Arc::new(config),
                    check_host_name: true,
                });
            }
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                return Err(Error::Config(format!(
                    "sslmode {} needs sslrootcert (a pem file of trusted certificates)",
                    mode.as_str()
                )));
            }
            (_, roots) => roots,
        };
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoHostName { roots, provider }))
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            check_host_name: false,
        })
    }
}

/// Reads every certificate of a PEM file into a root store.
fn read_roots(path: &Path) -> Result<RootCertStore> {
    let unreadable = |err: &dyn fmt::Display| {
        Error::Config(format!("cannot read sslrootcert {}: {err}", path.display()))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|err| unreadable(&err))? {
        let cert = cert.map_err(|err| unreadable(&err))?;
        roots.add(cert).map_err(|err| unreadable(&err))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"no certificate in the file"));
    }
    Ok(roots)
}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<PgTlsConnect> {
        // A Unix socket has no host name; the server refuses TLS there anyway. Under the modes
        // that do not check the name, any syntactically valid name will do.
        let name = ServerName::try_from(domain.to_owned())
            .ok()
            .or_else(|| (!self.check_host_name).then(|| ServerName::try_from("localhost").ok())?);
        Ok(PgTlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            name,
            domain: domain.to_owned(),
        })
    }
}

/// One pending TLS handshake (see [`PgTls`]).
pub struct PgTlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: Option<ServerName<'static>>,
    domain: String,
}

impl fmt::Debug for PgTlsConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTlsConnect")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<PgTlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let name = self.name.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{:?} is not a valid tls server name", self.domain),
                )
            })?;
            let stream = self.connector.connect(name, stream).await?;
            Ok(PgTlsStream(stream))
        })
    }
}

/// A TLS-wrapped socket.
#[derive(Debug)]
pub struct PgTlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for PgTlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

/// The verifier of every mode but `verify-full`: checks the chain against `roots` when there
/// are any (`verify-ca`, and `prefer` or `require` with a root certificate file), accepts any
/// certificate otherwise (as libpq), and never checks the host name. The handshake signatures
/// are always checked against the presented certificate.
#[derive(Debug)]
struct NoHostName {
    roots: Option<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
