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

/// Session `get` at 1 and 4 clients against pgbench.
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
    Ok(())
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
