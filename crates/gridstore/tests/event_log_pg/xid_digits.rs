//! Positions order numerically, also when transaction ids gain a digit (an owned server whose
//! next transaction id is moved with `pg_resetwal`).

use std::sync::Arc;
use std::time::Duration;

use gridstore::postgres::{PgConfig, PgEventLog, PgPool, migrations};
use gridstore::testing::event_log::assert_delivered_once_in_order;
use gridstore::{EventFilter, EventLog, Subscription};
use testkit::TestPostgres;

use super::{event, options};

/// The first transaction id of a commit-log page (32,768 per page) a little below 10,000,000:
/// the server zeroes that page when it hands the id out, so `pg_resetwal -x` may start there.
const XID_BELOW_TEN_MILLION: u64 = 305 * 32_768;

/// The directory holding `pg_resetwal` of the server testkit runs (`PATH` first, then the
/// newest `/usr/lib/postgresql/<version>/bin`).
fn pg_bin_dir() -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("pg_resetwal").is_file() && dir.join("initdb").is_file());
    on_path.unwrap_or_else(|| {
        let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("postgresql binaries")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .collect();
        versions.sort_unstable();
        let newest = versions.last().expect("a postgresql version");
        format!("/usr/lib/postgresql/{newest}/bin").into()
    })
}

/// `pg_resetwal`, run as the owner of `data_dir` (testkit runs the server as another OS user
/// when the tests run as root, and `pg_resetwal` refuses root).
fn resetwal_command(data_dir: &std::path::Path) -> std::process::Command {
    let text = |program: &str, args: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new(program)
            .args(args)
            .output()
            .expect(program);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let owner = text(
        "stat",
        &["-c".as_ref(), "%U".as_ref(), data_dir.as_os_str()],
    );
    let program = pg_bin_dir().join("pg_resetwal");
    if owner == text("id", &["-un".as_ref()]) {
        std::process::Command::new(program)
    } else {
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", &owner, "--"]).arg(program);
        command
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_order_numerically_when_transaction_ids_gain_a_digit() {
    // Arrange: an owned server whose transaction ids cross 10,000,000 (7 to 8 digits) while
    // six single-event transactions append.
    let mut server = tokio::task::spawn_blocking(|| {
        let mut server = TestPostgres::start().expect("start server");
        server.stop();
        let status = resetwal_command(&server.data_dir())
            .arg("-x")
            .arg(XID_BELOW_TEN_MILLION.to_string())
            .arg("-D")
            .arg(server.data_dir())
            .status()
            .expect("run pg_resetwal");
        assert!(status.success(), "pg_resetwal failed");
        server.restart();
        server
    })
    .await
    .expect("join");
    let db = server.create_database().await;
    let pool = PgPool::connect(&PgConfig::from_url(db.url()).expect("config"))
        .await
        .expect("pool");
    migrations::migrate(&pool).await.expect("migrate");
    let admin = pool.get().await.expect("client");
    let current: i64 = admin
        .query_one("select pg_current_xact_id()::text::bigint", &[])
        .await
        .expect("xid")
        .get(0);
    let burn = 10_000_000 - 3 - current;
    assert!(burn > 0, "the server already used transaction id {current}");
    // One subtransaction id per loop turn.
    admin
        .batch_execute(&format!(
            "create table burn (n integer);
             do $$ begin for i in 1..{burn} loop
                 begin insert into burn values (i); exception when others then null; end;
             end loop; end $$"
        ))
        .await
        .expect("burn transaction ids");
    let log: Arc<dyn EventLog> = Arc::new(PgEventLog::new(pool.clone()));
    for n in 0..6 {
        log.append(vec![event("s", n)]).await.expect("append");
    }

    // Act: follow the log one event per read, and query it in one page.
    let mut sub = Subscription::new(log.clone(), None, EventFilter::all(), options(1, 20));
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < 6 && tokio::time::Instant::now() < deadline {
        let batch = sub.poll().await.expect("poll");
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        got.extend(batch);
    }
    let page = log
        .query(&EventFilter::all(), None, 6)
        .await
        .expect("query");

    // Assert: ids really gained a digit, and both reads are in numeric position order.
    let first = page.first().expect("events").position.tx_id();
    let last = page.last().expect("events").position.tx_id();
    assert!(
        first < 10_000_000 && last >= 10_000_000 || last < 10_000_000 && first >= 10_000_000,
        "transaction ids {first}..{last} do not cross 10,000,000"
    );
    assert!(
        page.windows(2).all(|w| w[0].position < w[1].position),
        "query out of position order: {:?}",
        page.iter().map(|e| e.position).collect::<Vec<_>>()
    );
    assert_delivered_once_in_order(&got, 6);
    drop(pool);
    drop(db);
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("join");
}
