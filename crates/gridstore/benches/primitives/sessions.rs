//! Session reads: gridstore's PostgreSQL `get` against `pgbench` primary-key reads of an
//! identical table holding the same rows.

use std::sync::Arc;
use std::time::Duration;

use gridstore::postgres::PgSessionStore;
use gridstore::{Session, SessionState, SessionStore};

use crate::BoxError;
use crate::baseline::{PgbenchRun, pgbench, pgbench_command, write_script};
use crate::data::{SESSIONS, session_id, session_payload};
use crate::load::{Run, any_key, run_clients};
use crate::report::{Percentiles, Report, Row, Verdict, median, median_duration, ms, rate};
use crate::setup::Bench;

/// The baseline table: `gs_sessions`' exact definition (columns, checks, indexes), same rows.
const CREATE_BASELINE: &str = "
drop table if exists bench_sessions;
create table bench_sessions (like gs_sessions including all);
insert into bench_sessions select * from gs_sessions;";

/// The same columns and predicate as gridstore's `get`.
const SELECT_SCRIPT: &str = "\\set i random(0, 9999)
select id, state, data, version, created_at, updated_at, expires_at from bench_sessions where id = 's-' || :i;
";

/// gridstore's `get` statement, for the raw-driver diagnostic.
const RAW_GET: &str = "select id, state, data, version, created_at, updated_at, expires_at
  from gs_sessions where id = $1";

/// Saves [`SESSIONS`] sessions of ~1 KB (in batches of 1,000) and copies them into the
/// baseline table.
pub async fn prepare(bench: &Bench) -> Result<Arc<PgSessionStore>, BoxError> {
    let store = Arc::new(PgSessionStore::new(bench.pool.clone()));
    let all: Vec<Session> = (0..SESSIONS)
        .map(|i| Session::new(session_id(i), SessionState::Active, session_payload(i)))
        .collect();
    for chunk in all.chunks(1_000) {
        store.save_many(chunk).await?;
    }
    bench.execute(CREATE_BASELINE).await?;
    // VACUUM cannot run in the implicit transaction of a multi-statement string.
    bench.execute("vacuum analyze gs_sessions").await?;
    bench.execute("vacuum analyze bench_sessions").await?;
    Ok(store)
}

/// Medians over repetitions of one client count.
#[derive(Debug, Default)]
struct Series {
    ours: Vec<f64>,
    base: Vec<f64>,
    ours_p95: Vec<Duration>,
    base_p95: Vec<Duration>,
    ours_last: Option<Percentiles>,
}

impl Series {
    fn add(&mut self, mut ours: Run, mut base: PgbenchRun) {
        self.ours.push(ours.per_second());
        self.base.push(base.tps);
        let p = ours.percentiles();
        self.ours_p95.push(p.p95);
        self.ours_last = Some(p);
        if !base.latencies.is_empty() {
            self.base_p95.push(Percentiles::of(&mut base.latencies).p95);
        }
    }

    fn medians(&mut self) -> (f64, f64, Duration, Duration) {
        (
            median(&mut self.ours),
            median(&mut self.base),
            median_duration(&mut self.ours_p95),
            median_duration(&mut self.base_p95),
        )
    }
}

/// Session `get` at 1 and 4 clients against pgbench, plus a raw-driver diagnostic.
pub async fn gets(
    bench: &Bench,
    store: &Arc<PgSessionStore>,
    report: &mut Report,
) -> Result<(), BoxError> {
    let script = write_script(bench, "select_session.sql", SELECT_SCRIPT)?;
    let mut series = [Series::default(), Series::default()];
    for rep in 0..bench.settings.reps {
        for (slot, clients) in [1_usize, 4].into_iter().enumerate() {
            let ours_first = rep % 2 == 1;
            let mut ours = None;
            if ours_first {
                ours = Some(get_run(store, clients, bench.settings.run_time).await?);
            }
            let base = pgbench(bench, &script, clients, clients == 1).await?;
            if !ours_first {
                ours = Some(get_run(store, clients, bench.settings.run_time).await?);
            }
            let ours = ours.ok_or("no run")?;
            println!(
                "  rep {rep} get c={clients}: gridstore {} pgbench {}",
                rate(ours.per_second()),
                rate(base.tps)
            );
            series[slot].add(ours, base);
        }
    }
    let secs = bench.settings.pgbench_secs();
    let (ours4, base4, _, _) = series[1].medians();
    report.push(Row {
        measurement: "session get, 4 clients (throughput)".into(),
        gridstore: rate(ours4),
        baseline: format!(
            "{} (`{}`)",
            rate(base4),
            pgbench_command("select_session.sql", 4, secs)
        ),
        ratio: Some(ours4 / base4),
        target: "≥ 70% of pgbench".into(),
        verdict: Verdict::from_bool(ours4 / base4 >= 0.70),
    });
    let (ours1, base1, p95, base_p95) = series[0].medians();
    let detail = series[0]
        .ours_last
        .map(|p| p.describe())
        .unwrap_or_default();
    report.push(Row {
        measurement: "session get, 1 client (p95 latency)".into(),
        gridstore: format!("p95 {} ms, {} (last rep: {detail})", ms(p95), rate(ours1)),
        baseline: format!(
            "p95 {} ms, {} (pgbench -c1, logged)",
            ms(base_p95),
            rate(base1)
        ),
        ratio: Some(ours1 / base1),
        target: "p95 ≤ 1 ms".into(),
        verdict: Verdict::from_bool(p95 <= Duration::from_millis(1)),
    });
    raw_driver_get(bench, report).await?;
    pool_checkout(bench, report).await
}

async fn get_run(
    store: &Arc<PgSessionStore>,
    clients: usize,
    run_time: Duration,
) -> Result<Run, BoxError> {
    let store = Arc::clone(store);
    run_clients(clients, run_time, move |client, n| {
        let store = Arc::clone(&store);
        async move {
            let id = session_id(any_key(client, n, SESSIONS));
            store.get(&id).await?.ok_or("session missing")?;
            Ok(())
        }
    })
    .await
}

/// The same statement on dedicated tokio-postgres connections (one per client, no pool, no
/// decoding into a `Session`), to show what the pool checkout and the decoding cost.
async fn raw_driver_get(bench: &Bench, report: &mut Report) -> Result<(), BoxError> {
    let mut connections = Vec::new();
    let mut drivers = Vec::new();
    for _ in 0..4 {
        let (client, connection) =
            tokio_postgres::connect(bench.db.url(), tokio_postgres::NoTls).await?;
        drivers.push(tokio::spawn(connection));
        let statement = client.prepare(RAW_GET).await?;
        connections.push((client, statement));
    }
    let connections = Arc::new(connections);
    for clients in [1_usize, 4] {
        let mut rates = Vec::new();
        let mut p95s = Vec::new();
        for _ in 0..bench.settings.reps {
            let connections = Arc::clone(&connections);
            let mut run = run_clients(clients, bench.settings.run_time, move |c, n| {
                let connections = Arc::clone(&connections);
                async move {
                    let (client, statement) = &connections[c];
                    let id = session_id(any_key(c, n, SESSIONS));
                    client.query_one(statement, &[&id]).await?;
                    Ok(())
                }
            })
            .await?;
            rates.push(run.per_second());
            p95s.push(run.percentiles().p95);
        }
        report.push(Row {
            measurement: format!(
                "diagnostic: raw tokio-postgres get (no pool, no decoding), {clients} client(s)"
            ),
            gridstore: format!(
                "{}, p95 {} ms",
                rate(median(&mut rates)),
                ms(median_duration(&mut p95s))
            ),
            baseline: "-".into(),
            ratio: None,
            target: "-".into(),
            verdict: Verdict::Info,
        });
    }
    drivers.iter().for_each(tokio::task::JoinHandle::abort);
    Ok(())
}

/// A pool checkout alone, then a checkout plus the raw `get` statement (no decoding), at 1
/// client: deadpool's `RecyclingMethod::Verified` sends a test query on every checkout, one
/// extra round trip per operation.
async fn pool_checkout(bench: &Bench, report: &mut Report) -> Result<(), BoxError> {
    for with_query in [false, true] {
        let mut rates = Vec::new();
        let mut p95s = Vec::new();
        for _ in 0..bench.settings.reps {
            let pool = bench.pool.clone();
            let mut run = run_clients(1, bench.settings.run_time, move |c, n| {
                let pool = pool.clone();
                async move {
                    let client = pool.get().await?;
                    if with_query {
                        let statement = client.prepare_cached(RAW_GET).await?;
                        let id = session_id(any_key(c, n, SESSIONS));
                        client.query_one(&statement, &[&id]).await?;
                    }
                    Ok(())
                }
            })
            .await?;
            rates.push(run.per_second());
            p95s.push(run.percentiles().p95);
        }
        let what = if with_query {
            "pool checkout + raw get statement (no decoding)"
        } else {
            "pool checkout + return alone"
        };
        report.push(Row {
            measurement: format!("diagnostic: {what}, 1 client"),
            gridstore: format!(
                "{}, p95 {} ms",
                rate(median(&mut rates)),
                ms(median_duration(&mut p95s))
            ),
            baseline: "-".into(),
            ratio: None,
            target: "-".into(),
            verdict: Verdict::Info,
        });
    }
    Ok(())
}
