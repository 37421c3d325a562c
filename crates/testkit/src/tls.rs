//! [`TestCertificates`]: a throwaway certificate authority and a server certificate signed by
//! it, for servers started [`with_tls`](crate::TestPostgresBuilder::with_tls).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A fresh CA (its certificate also written to a PEM file, removed on drop) and a server
/// certificate and key signed by it. Validity runs from 1975 to 4096, so tests pass on any
/// date.
#[derive(Debug)]
pub struct TestCertificates {
    dir: PathBuf,
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

impl TestCertificates {
    /// Generates a CA named `common_name` and a server certificate for `names`, each an IP
    /// address (`127.0.0.1`) or a DNS name (`localhost`).
    ///
    /// # Panics
    ///
    /// When a name is invalid or the CA file cannot be written.
    pub fn generate(common_name: &str, names: &[&str]) -> Self {
        let (ca, ca_key) = certificate_authority(common_name);
        let server_key = KeyPair::generate().expect("testkit: generate a server key");
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        )
        .expect("testkit: valid server names");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let server = params
            .signed_by(&server_key, &ca, &ca_key)
            .expect("testkit: sign the server certificate");
        let dir =
            std::env::temp_dir().join(format!("testkit-tls-{}", uuid::Uuid::new_v4().simple()));
        let this = Self {
            dir,
            ca_pem: ca.pem(),
            server_cert_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
        };
        std::fs::create_dir_all(&this.dir).expect("testkit: create the certificate directory");
        std::fs::write(this.ca_file(), &this.ca_pem).expect("testkit: write the ca file");
        this
    }

    /// The PEM file holding the CA certificate, for `sslrootcert`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The directory holding [`ca_file`](Self::ca_file).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate (PEM).
    pub fn server_cert_pem(&self) -> &str {
        &self.server_cert_pem
    }

    /// The server's private key (PEM, PKCS#8).
    pub fn server_key_pem(&self) -> &str {
        &self.server_key_pem
    }
}

impl Drop for TestCertificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn certificate_authority(common_name: &str) -> (Certificate, KeyPair) {
    let key = KeyPair::generate().expect("testkit: generate a ca key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("testkit: ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).expect("testkit: self-sign the ca");
    (cert, key)
}
