//! TLS: every `sslmode` against a server with a certificate from a test CA, and against one
//! without TLS.

use std::sync::OnceLock;

use gridstore::Error;
use gridstore::postgres::{PgConfig, PgListener, PgPool, migrations};
use testkit::{TestCertificates, TestPostgres};

/// A TLS server whose certificate names `127.0.0.1` only (so `localhost` is a mismatch), its
/// CA, and an unrelated CA.
struct TlsServer {
    server: TestPostgres,
    ca: TestCertificates,
    other_ca: TestCertificates,
}

static TLS_SERVER: OnceLock<TlsServer> = OnceLock::new();

async fn tls_server() -> &'static TlsServer {
    tokio::task::spawn_blocking(|| {
        TLS_SERVER.get_or_init(|| {
            let ca = TestCertificates::generate("gridstore test ca", &["127.0.0.1"]);
            let other_ca = TestCertificates::generate("another ca", &["127.0.0.1"]);
            let server = TestPostgres::builder()
                .with_tls(&ca)
                .start()
                .expect("tls server starts");
            TlsServer {
                server,
                ca,
                other_ca,
            }
        })
    })
    .await
    .expect("tls server init")
}

impl TlsServer {
    /// A URL on `host` with the given query parameters.
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://postgres@{host}:{}/postgres?connect_timeout=5&{query}",
            self.server.port()
        )
    }

    fn ca(&self) -> String {
        self.ca.ca_file().display().to_string()
    }

    fn other_ca(&self) -> String {
        self.other_ca.ca_file().display().to_string()
    }
}

async fn connect(url: &str) -> gridstore::Result<PgPool> {
    PgPool::connect(&PgConfig::from_url(url)?.with_pool_max_size(1)).await
}

/// Whether the pool's connection is encrypted, as the server sees it.
async fn encrypted(pool: &PgPool) -> bool {
    let client = pool.get().await.expect("checkout");
    client
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

fn assert_tls_error(result: gridstore::Result<PgPool>, reason: &str) {
    let err = result.expect_err("connection refused");
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains(reason), "{err}");
}

#[tokio::test]
async fn verify_full_connects_encrypted_when_the_certificate_names_the_host_and_migrations_run() {
    let tls = tls_server().await;
    let db = tls.server.create_database().await;
    let url = format!("{}?sslmode=verify-full&sslrootcert={}", db.url(), tls.ca());

    let pool = connect(&url).await.expect("verify-full connects");

    assert!(encrypted(&pool).await);
    migrations::migrate(&pool)
        .await
        .expect("migrations over tls");
}

#[tokio::test]
async fn verify_full_refuses_a_host_name_the_certificate_does_not_name() {
    let tls = tls_server().await;
    let url = tls.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", tls.ca()),
    );

    assert_tls_error(connect(&url).await, "not valid for name \"localhost\"");
}

#[tokio::test]
async fn verify_ca_accepts_a_host_name_the_certificate_does_not_name() {
    let tls = tls_server().await;
    let url = tls.url(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={}", tls.ca()),
    );

    let pool = connect(&url).await.expect("verify-ca connects");

    assert!(encrypted(&pool).await);
}

#[tokio::test]
async fn verify_ca_and_verify_full_refuse_a_certificate_of_another_ca() {
    let tls = tls_server().await;
    for mode in ["verify-ca", "verify-full"] {
        let url = tls.url(
            "127.0.0.1",
            &format!("sslmode={mode}&sslrootcert={}", tls.other_ca()),
        );

        assert_tls_error(connect(&url).await, "UnknownIssuer");
    }
}

#[tokio::test]
async fn require_without_a_root_certificate_encrypts_without_checking_the_certificate() {
    let tls = tls_server().await;
    let url = tls.url("localhost", "sslmode=require");

    let pool = connect(&url).await.expect("require connects");

    assert!(encrypted(&pool).await);
}

#[tokio::test]
async fn require_with_a_root_certificate_checks_the_chain_like_libpq() {
    let tls = tls_server().await;
    let trusted = tls.url(
        "localhost",
        &format!("sslmode=require&sslrootcert={}", tls.ca()),
    );
    let untrusted = tls.url(
        "localhost",
        &format!("sslmode=require&sslrootcert={}", tls.other_ca()),
    );

    assert!(encrypted(&connect(&trusted).await.expect("trusted")).await);
    assert_tls_error(connect(&untrusted).await, "UnknownIssuer");
}

#[tokio::test]
async fn require_fails_clearly_against_a_server_without_tls() {
    let db = testkit::database().await;
    let url = format!("{}?sslmode=require", db.url());

    assert_tls_error(connect(&url).await, "server does not support TLS");
}

#[tokio::test]
async fn prefer_is_the_default_and_falls_back_to_plain_tcp_on_a_server_without_tls() {
    let db = testkit::database().await;

    let pool = connect(db.url()).await.expect("prefer connects");

    assert!(!encrypted(&pool).await);
}

#[tokio::test]
async fn prefer_encrypts_when_the_server_offers_tls_and_disable_never_does() {
    let tls = tls_server().await;

    let preferred = connect(&tls.url("localhost", "sslmode=prefer"))
        .await
        .expect("prefer");
    let disabled = connect(&tls.url("localhost", "sslmode=disable"))
        .await
        .expect("disable");

    assert!(encrypted(&preferred).await);
    assert!(!encrypted(&disabled).await);
}

#[tokio::test]
async fn the_listen_connection_uses_the_same_tls_settings() {
    let tls = tls_server().await;
    let config = PgConfig::from_url(&tls.url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", tls.ca()),
    ))
    .expect("config");
    let pool = PgPool::connect(&config).await.expect("pool");

    let listener = PgListener::start(&config).await.expect("listener connects");

    let pid = listener.backend_pid().expect("connected");
    let client = pool.get().await.expect("checkout");
    let ssl: bool = client
        .query_one("select ssl from pg_stat_ssl where pid = $1", &[&pid])
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(ssl, "the listen connection is encrypted");
    let bad = PgConfig::from_url(&tls.url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", tls.other_ca()),
    ))
    .expect("config");
    let err = PgListener::start(&bad).await.expect_err("untrusted");
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
}
