//! Failover under load through the API: a multi-host `DATABASE_URL` with
//! `target_session_attrs=read-write`, a durable primary with a synchronous standby; the
//! primary is killed (SIGKILL) and the standby promoted. Creates answer 201 or a JSON 503 with
//! `Retry-After` meanwhile, resume within 5 s of the promotion, and every acknowledged
//! position is on the new primary.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use testkit::TestPostgres;

use super::flows::{position_body, tenant};
use super::server::{ROOT_KEY, TestServer, postgres_settings};

const DEADLINE: Duration = Duration::from_secs(30);

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_a_failover_and_the_api_recovers_by_itself() {
    // Arrange
    let (primary, standby) = tokio::task::spawn_blocking(|| {
        let primary = TestPostgres::builder()
            .with_setting("fsync", "on")
            .with_setting("synchronous_commit", "on")
            .start()
            .expect("primary");
        let standby = primary.start_replica().expect("standby");
        (primary, standby)
    })
    .await
    .expect("servers");
    let admin = connect(&primary.url("postgres")).await;
    for sql in [
        "alter system set synchronous_standby_names = '*'",
        "select pg_reload_conf()",
    ] {
        admin.batch_execute(sql).await.expect("synchronous standby");
    }
    let started = Instant::now();
    while !admin
        .query_one(
            "select exists (select 1 from pg_stat_replication where sync_state = 'sync')",
            &[],
        )
        .await
        .expect("pg_stat_replication")
        .get::<_, bool>(0)
    {
        assert!(started.elapsed() < DEADLINE, "standby never synchronous");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let db = primary.create_database().await;
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{}?target_session_attrs=read-write&connect_timeout=2",
        standby.port(),
        primary.port(),
        db.name()
    );
    let mut settings = postgres_settings(&url);
    settings.server.request_timeout_ms = 10_000;
    let api = TestServer::start(settings).await;
    api.wait_ready().await;
    let tenant = tenant(api.addr, ROOT_KEY).await;

    // Act: create positions continuously; fail over once some went through, and keep going
    // until 20 more went through after the promotion.
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0_usize);
    let (promoted_tx, promoted) = tokio::sync::watch::channel(None::<Instant>);
    let writer = tokio::spawn({
        let (addr, key, asset) = (api.addr, tenant.admin_key.clone(), tenant.asset_id.clone());
        async move {
            let mut acked = Vec::new();
            let mut unavailable = 0;
            let started = Instant::now();
            loop {
                let mut admin = super::client::Client::connect(addr, Some(&key)).await;
                let reply = admin
                    .try_send(
                        Method::POST,
                        "/positions",
                        Some(&position_body(&asset)),
                        &[],
                    )
                    .await
                    .expect("an answer, never a hang past the request timeout");
                match reply.status {
                    StatusCode::CREATED => {
                        acked.push((reply.str("id"), Instant::now()));
                        progress_tx.send_replace(acked.len());
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {
                        assert!(
                            reply.headers.contains_key("retry-after"),
                            "503 has Retry-After"
                        );
                        // An outage, or a COMMIT cut off by the kill: neither was acknowledged.
                        let error = reply.body["error"].as_str().unwrap_or_default();
                        assert!(
                            ["Service unavailable", "Commit outcome unknown"].contains(&error),
                            "{}",
                            reply.body
                        );
                        unavailable += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    other => panic!("unexpected {other}: {}", reply.body),
                }
                let after_promotion = promoted
                    .borrow()
                    .map_or(0, |at| acked.iter().filter(|(_, t)| *t > at).count());
                if after_promotion >= 20 || started.elapsed() > DEADLINE {
                    return (acked, unavailable);
                }
            }
        }
    });
    let started = Instant::now();
    progress
        .wait_for(|acked| *acked >= 20)
        .await
        .expect("creates before the failover");
    let (primary, standby) = tokio::task::spawn_blocking(move || {
        let mut primary = primary;
        primary.kill();
        standby.promote();
        (primary, standby)
    })
    .await
    .expect("failover");
    let promoted_at = Instant::now();
    promoted_tx.send_replace(Some(promoted_at));
    let (acked, unavailable) = writer.await.expect("writer");
    assert!(started.elapsed() < DEADLINE + Duration::from_secs(5));

    // Assert
    let first_after = acked
        .iter()
        .map(|(_, at)| *at)
        .find(|at| *at > promoted_at)
        .expect("creates resumed after the promotion");
    let resumed_after = first_after.duration_since(promoted_at);
    assert!(
        resumed_after <= Duration::from_secs(5),
        "creates resumed {resumed_after:?} after the promotion"
    );
    let survivor = connect(&standby.url(db.name())).await;
    let stored: Vec<String> = survivor
        .query("select id from positions", &[])
        .await
        .expect("read the new primary")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|(id, _)| !stored.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged creates lost: {lost:?}");
    eprintln!(
        "api failover: {} creates acknowledged, all on the new primary; {unavailable} answered 503; creates resumed {resumed_after:?} after the promotion",
        acked.len()
    );
    api.stop().await;
    drop(primary);
}
