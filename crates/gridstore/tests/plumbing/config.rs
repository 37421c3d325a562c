//! `PgConfig`: parsing, defaults, redaction, and what reaches the server.

use std::time::Duration;

use gridstore::Error;
use gridstore::postgres::{PgConfig, PgPool, SslMode};

use crate::support::fresh_pool_with;

#[test]
fn a_postgres_url_sets_every_field_it_names() {
    // Act
    let config = PgConfig::from_url(
        "postgres://alice:s3cret@db.example:6543/ledger?application_name=api&connect_timeout=7&sslmode=disable",
    )
    .expect("url parses");

    // Assert
    assert_eq!(config.host(), "db.example");
    assert_eq!(config.port(), 6543);
    assert_eq!(config.dbname(), "ledger");
    assert_eq!(config.user(), "alice");
    assert!(config.has_password());
    assert_eq!(config.application_name(), "api");
    assert_eq!(config.connect_timeout(), Duration::from_secs(7));
    assert_eq!(config.ssl_mode(), SslMode::Disable);
}

#[test]
fn a_key_value_connection_string_is_accepted() {
    let config =
        PgConfig::from_url("host=/tmp/sock port=5433 dbname=app user=bob").expect("parses");

    assert_eq!(config.host(), "/tmp/sock");
    assert_eq!(config.port(), 5433);
    assert_eq!(config.dbname(), "app");
    assert_eq!(config.user(), "bob");
    assert!(!config.has_password());
}

#[test]
fn defaults_match_the_documentation() {
    let config = PgConfig::new();

    assert_eq!(config.host(), "localhost");
    assert_eq!(config.port(), 5432);
    assert_eq!(config.pool_max_size(), 16);
    assert_eq!(config.pool_min_idle(), 0);
    assert_eq!(config.connect_timeout(), Duration::from_secs(5));
    assert_eq!(config.wait_timeout(), Duration::from_secs(10));
    assert_eq!(config.verify_after_idle(), Duration::from_secs(1));
    assert_eq!(config.idle_timeout(), None);
    assert_eq!(config.max_lifetime(), None);
    assert_eq!(config.statement_timeout(), None);
    assert_eq!(config.application_name(), "gridstore");
    assert_eq!(config.ssl_mode(), SslMode::Prefer);
}

#[test]
fn setters_override_every_field() {
    let config = PgConfig::new()
        .with_host("h")
        .with_port(1)
        .with_dbname("d")
        .with_user("u")
        .with_password("p")
        .with_pool_max_size(3)
        .with_pool_min_idle(2)
        .with_connect_timeout(Duration::from_secs(1))
        .with_idle_timeout(Some(Duration::from_secs(2)))
        .with_max_lifetime(Some(Duration::from_secs(3)))
        .with_statement_timeout(Some(Duration::from_secs(4)))
        .with_wait_timeout(Duration::from_secs(5))
        .with_verify_after_idle(Duration::from_secs(6))
        .with_application_name("app")
        .with_ssl_mode(SslMode::Disable);

    assert_eq!(
        (config.host(), config.port(), config.dbname(), config.user()),
        ("h", 1, "d", "u")
    );
    assert!(config.has_password());
    assert_eq!((config.pool_max_size(), config.pool_min_idle()), (3, 2));
    assert_eq!(config.connect_timeout(), Duration::from_secs(1));
    assert_eq!(config.idle_timeout(), Some(Duration::from_secs(2)));
    assert_eq!(config.max_lifetime(), Some(Duration::from_secs(3)));
    assert_eq!(config.statement_timeout(), Some(Duration::from_secs(4)));
    assert_eq!(config.wait_timeout(), Duration::from_secs(5));
    assert_eq!(config.verify_after_idle(), Duration::from_secs(6));
    assert_eq!(config.application_name(), "app");
    assert_eq!(config.ssl_mode(), SslMode::Disable);
}

#[test]
fn debug_output_never_contains_the_password() {
    let from_url = PgConfig::from_url("postgres://alice:hunter2-url@localhost/db").expect("parses");
    let from_setter = PgConfig::new().with_password("hunter2-setter");

    let debug = format!("{from_url:?} {from_setter:?} {from_url:#?}");

    assert!(!debug.contains("hunter2"), "password leaked: {debug}");
    assert!(debug.contains("<redacted>"));
}

#[test]
fn an_unparsable_url_is_a_config_error_without_the_password() {
    let err = PgConfig::from_url("postgres://alice:hunter2@localhost/db?bogus_option=1")
        .expect_err("unknown option is rejected");

    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn verify_full_without_a_root_certificate_is_a_config_error() {
    let config = PgConfig::new().with_ssl_mode(SslMode::VerifyFull);

    let err = PgPool::connect(&config)
        .await
        .expect_err("refused before connecting");

    assert!(
        matches!(&err, Error::Config(message) if message.contains("sslrootcert")),
        "{err:?}"
    );
}

#[test]
fn every_libpq_sslmode_and_sslrootcert_parse_from_a_url() {
    for (name, mode) in [
        ("disable", SslMode::Disable),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify-full", SslMode::VerifyFull),
    ] {
        let config = PgConfig::from_url(&format!(
            "postgres://u@h:5433/db?sslmode={name}&sslrootcert=/etc/ca.pem&application_name=x"
        ))
        .expect("parses");
        assert_eq!(config.ssl_mode(), mode);
        assert_eq!(mode.as_str(), name);
        assert_eq!(
            config.ssl_root_cert(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(config.application_name(), "x");
    }
}

#[tokio::test]
async fn statement_timeout_and_application_name_reach_the_server() {
    // Arrange
    let (_db, pool) = fresh_pool_with(|config| {
        config
            .with_statement_timeout(Some(Duration::from_millis(1500)))
            .with_application_name("plumbing-test")
    })
    .await;

    // Act
    let client = pool.get().await.expect("checkout");
    let row = client
        .query_one(
            "select current_setting('statement_timeout'), current_setting('application_name')",
            &[],
        )
        .await
        .expect("settings query");

    // Assert
    assert_eq!(row.get::<_, String>(0), "1500ms");
    assert_eq!(row.get::<_, String>(1), "plumbing-test");
}

#[test]
fn a_statement_timeout_under_a_millisecond_is_rounded_up_not_disabled() {
    // PostgreSQL reads `statement_timeout=0` as "no timeout".
    let config = PgConfig::new()
        .with_statement_timeout(Some(Duration::from_micros(500)))
        .to_driver_config()
        .expect("driver config");

    assert_eq!(config.get_options(), Some("-c statement_timeout=1"));
}
