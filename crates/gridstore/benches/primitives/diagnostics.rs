//! Where the time of a session `get` goes: the same statement on dedicated connections, a pool
//! checkout alone, and a checkout plus the statement through gridstore's `PgPool` (verification
//! after 1 s idle, the default, and on every checkout, the old behaviour) and through a plain
//! deadpool pool with `Fast` recycling.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use gridstore::postgres::PgPool;
use tokio_postgres::NoTls;

use crate::BoxError;
use crate::data::{SESSIONS, session_id};
use crate::load::{any_key, run_clients};
use crate::report::{Report, Row, Verdict, median, median_duration, ms, rate};
use crate::setup::Bench;

/// gridstore's `get` statement, run without decoding its row into a `Session`.
const RAW_GET: &str = "select id, state, data, version, created_at, updated_at, expires_at
  from gs_sessions where id = $1";

/// Runs every diagnostic and adds one info row each.
pub async fn get_paths(bench: &Bench, report: &mut Report) -> Result<(), BoxError> {
    raw_connections(bench, report).await?;
    let pool = bench.pool.clone();
    let checkout = measure(bench, 1, move |_, _| {
        let pool = pool.clone();
        async move {
            drop(pool.get().await?);
            Ok(())
        }
    })
    .await?;
    push(
        report,
        "`PgPool` checkout + return alone (verify after 1 s idle), 1 client",
        checkout,
    );
    let default = checkout_and_get(bench, bench.pool.clone()).await?;
    push(
        report,
        "`PgPool` checkout (verify after 1 s idle) + get statement, 1 client",
        default,
    );
    let always = PgPool::connect(
        &bench
            .config
            .clone()
            .with_pool_max_size(4)
            .with_verify_after_idle(Duration::ZERO),
    )
    .await?;
    let verified = checkout_and_get(bench, always.clone()).await?;
    always.close();
    push(
        report,
        "`PgPool` checkout (verify every checkout) + get statement, 1 client",
        verified,
    );
    let manager = Manager::from_config(
        bench.db.url().parse()?,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let fast_pool = Pool::builder(manager).max_size(4).build()?;
    let fast = measure(bench, 1, move |c, n| {
        let pool = fast_pool.clone();
        async move {
            let client = pool.get().await?;
            let statement = client.prepare_cached(RAW_GET).await?;
            client
                .query_one(&statement, &[&session_id(any_key(c, n, SESSIONS))])
                .await?;
            Ok(())
        }
    })
    .await?;
    push(
        report,
        "pool checkout (`Fast`) + get statement, 1 client",
        fast,
    );
    Ok(())
}

/// A `PgPool` checkout plus the statement, at 1 client.
async fn checkout_and_get(
    bench: &Bench,
    pool: PgPool,
) -> Result<(f64, std::time::Duration), BoxError> {
    measure(bench, 1, move |c, n| {
        let pool = pool.clone();
        async move {
            let client = pool.get().await?;
            let statement = client.prepare_cached(RAW_GET).await?;
            client
                .query_one(&statement, &[&session_id(any_key(c, n, SESSIONS))])
                .await?;
            Ok(())
        }
    })
    .await
}

/// The statement on dedicated connections, one per client, at 1 and 4 clients.
async fn raw_connections(bench: &Bench, report: &mut Report) -> Result<(), BoxError> {
    let mut connections = Vec::new();
    let mut drivers = Vec::new();
    for _ in 0..4 {
        let (client, connection) = tokio_postgres::connect(bench.db.url(), NoTls).await?;
        drivers.push(tokio::spawn(connection));
        let statement = client.prepare(RAW_GET).await?;
        connections.push((client, statement));
    }
    let connections = Arc::new(connections);
    for clients in [1_usize, 4] {
        let connections = Arc::clone(&connections);
        let result = measure(bench, clients, move |c, n| {
            let connections = Arc::clone(&connections);
            async move {
                let (client, statement) = &connections[c];
                client
                    .query_one(statement, &[&session_id(any_key(c, n, SESSIONS))])
                    .await?;
                Ok(())
            }
        })
        .await?;
        let name = format!("get statement on dedicated connections (no pool), {clients} client(s)");
        push(report, &name, result);
    }
    drivers.iter().for_each(tokio::task::JoinHandle::abort);
    Ok(())
}

/// Median rate and median p95 over the configured repetitions.
async fn measure<F, Fut>(
    bench: &Bench,
    clients: usize,
    op: F,
) -> Result<(f64, std::time::Duration), BoxError>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let mut rates = Vec::new();
    let mut p95s = Vec::new();
    for _ in 0..bench.settings.reps {
        let mut run = run_clients(clients, bench.settings.run_time, op.clone()).await?;
        rates.push(run.per_second());
        p95s.push(run.percentiles().p95);
    }
    Ok((median(&mut rates), median_duration(&mut p95s)))
}

fn push(report: &mut Report, what: &str, (per_second, p95): (f64, std::time::Duration)) {
    report.push(Row {
        measurement: format!("diagnostic: {what}"),
        gridstore: format!("{}, p95 {} ms", rate(per_second), ms(p95)),
        baseline: "-".into(),
        ratio: None,
        target: "-".into(),
        verdict: Verdict::Info,
    });
}
