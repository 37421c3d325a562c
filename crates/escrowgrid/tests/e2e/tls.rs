//! `DATABASE_URL` with `sslmode=require` and `verify-full`: the server migrates and serves
//! over TLS connections to a PostgreSQL with a test CA's certificate.

use hyper::StatusCode;
use testkit::{TestCertificates, TestPostgres};

use super::flows::{position_body, tenant};
use super::server::{ROOT_KEY, TestServer};

/// How many of escrowgrid's connections are encrypted, and how many there are.
async fn escrowgrid_connections(server: &TestPostgres) -> (i64, i64) {
    let db = server.create_database().await;
    let client = db.connect().await;
    let row = client
        .query_one(
            "select count(*) filter (where s.ssl), count(*) \
             from pg_stat_activity a join pg_stat_ssl s using (pid) \
             where a.application_name = 'escrowgrid'",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_runs_on_a_database_url_that_requires_tls() {
    // Arrange
    let certificates = TestCertificates::generate("escrowgrid test ca", &["127.0.0.1"]);
    let server = tokio::task::spawn_blocking({
        let builder = TestPostgres::builder().with_tls(&certificates);
        move || builder.start().expect("tls server")
    })
    .await
    .expect("start");
    let db = server.create_database().await;

    for query in [
        "sslmode=require".to_owned(),
        format!(
            "sslmode=verify-full&sslrootcert={}",
            certificates.ca_file().display()
        ),
    ] {
        // Act
        let api = TestServer::postgres(&format!("{}?{query}", db.url())).await;
        let tenant = tenant(api.addr, ROOT_KEY).await;
        let mut admin = api.client(&tenant.admin_key).await;
        admin
            .post("/positions", &position_body(&tenant.asset_id))
            .await
            .expect(StatusCode::CREATED);

        // Assert
        let (encrypted, total) = escrowgrid_connections(&server).await;
        assert!(total > 0, "{query}: escrowgrid has connections");
        assert_eq!(encrypted, total, "{query}: every connection is encrypted");
        api.stop().await;
    }
}
