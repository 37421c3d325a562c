//! Versioned saves: gridstore's read-modify-write (`get` + `save`) against pgbench's
//! version-checked CAS update on the identical table, and `save` alone.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gridstore::postgres::PgSessionStore;
use gridstore::{Session, SessionStore};

use crate::BoxError;
use crate::baseline::{pgbench, pgbench_command, write_script};
use crate::data::{SESSIONS, session_id};
use crate::load::{Run, owned_key, run_clients};
use crate::report::{Percentiles, Report, Row, Verdict, median, median_duration, ms, rate};
use crate::setup::Bench;

/// Reads the version and payload, then writes them back only if the version is unchanged:
/// the same work as gridstore's `get` + `save` (pg-limits.md's `update_cas.sql` on sessions).
const CAS_SCRIPT: &str = "\\set i random(0, 9999)
select version as v, data as d from bench_sessions where id = 's-' || :i \\gset
update bench_sessions set state = 'active', data = :d::jsonb, version = version + 1, updated_at = date_trunc('milliseconds', now()) where id = 's-' || :i and version = :v;
";

/// Read-modify-write at 1 and 4 clients against pgbench's CAS, then `save` alone at 1 client.
pub async fn saves(
    bench: &Bench,
    store: &Arc<PgSessionStore>,
    report: &mut Report,
) -> Result<(), BoxError> {
    let script = write_script(bench, "cas_session.sql", CAS_SCRIPT)?;
    // [clients] -> (ours/s, pgbench/s, our p95, pgbench p95)
    let mut ours = [Vec::new(), Vec::new()];
    let mut base = [Vec::new(), Vec::new()];
    let mut ours_p95 = [Vec::new(), Vec::new()];
    let mut base_p95 = Vec::new();
    for rep in 0..bench.settings.reps {
        for (slot, clients) in [1_usize, 4].into_iter().enumerate() {
            bench.execute("checkpoint").await?;
            let versions_before = version_sum(bench).await?;
            let mut base_run = pgbench(bench, &script, clients, clients == 1).await?;
            let applied = version_sum(bench).await? - versions_before;
            if applied != i64::try_from(base_run.transactions)? {
                println!(
                    "  note: {applied} of {} pgbench CAS transactions updated a row",
                    base_run.transactions
                );
            }
            bench.execute("checkpoint").await?;
            let mut run = rmw_run(store, clients, bench.settings.run_time).await?;
            println!(
                "  rep {rep} rmw c={clients}: gridstore {} pgbench {}",
                rate(run.per_second()),
                rate(base_run.tps)
            );
            ours[slot].push(run.per_second());
            base[slot].push(base_run.tps);
            ours_p95[slot].push(run.percentiles().p95);
            if clients == 1 {
                base_p95.push(Percentiles::of(&mut base_run.latencies).p95);
            }
        }
    }
    let secs = bench.settings.pgbench_secs();
    let (o4, b4) = (median(&mut ours[1]), median(&mut base[1]));
    report.push(Row {
        measurement: "versioned save (get + save), 4 clients (throughput)".into(),
        gridstore: rate(o4),
        baseline: format!(
            "{} (`{}`)",
            rate(b4),
            pgbench_command("cas_session.sql", 4, secs)
        ),
        ratio: Some(o4 / b4),
        target: "≥ 70% of pgbench CAS".into(),
        verdict: Verdict::from_bool(o4 / b4 >= 0.70),
    });
    let (o1, b1) = (median(&mut ours[0]), median(&mut base[0]));
    let rmw_p95 = median_duration(&mut ours_p95[0]);
    report.push(Row {
        measurement: "versioned save (get + save), 1 client".into(),
        gridstore: format!("{}, p95 {} ms", rate(o1), ms(rmw_p95)),
        baseline: format!(
            "{}, p95 {} ms (pgbench -c1, logged)",
            rate(b1),
            ms(median_duration(&mut base_p95))
        ),
        ratio: Some(o1 / b1),
        target: "p95 ≤ 2 ms".into(),
        verdict: Verdict::from_bool(rmw_p95 <= Duration::from_millis(2)),
    });
    save_only(bench, store, report).await
}

/// The sum of `bench_sessions.version`: it grows by one per successful CAS update.
async fn version_sum(bench: &Bench) -> Result<i64, BoxError> {
    let client = bench.pool.get().await?;
    let row = client
        .query_one("select sum(version)::int8 from bench_sessions", &[])
        .await?;
    Ok(row.try_get(0)?)
}

async fn rmw_run(
    store: &Arc<PgSessionStore>,
    clients: usize,
    run_time: Duration,
) -> Result<Run, BoxError> {
    let store = Arc::clone(store);
    run_clients(clients, run_time, move |client, n| {
        let store = Arc::clone(&store);
        async move {
            // Clients own disjoint keys, so a version conflict would be a bug.
            let id = session_id(owned_key(client, n, clients, SESSIONS));
            let mut session = store.get(&id).await?.ok_or("session missing")?;
            session.touch();
            store.save(&session).await?;
            Ok(())
        }
    })
    .await
}

/// `save` of a session whose version the client already knows: one statement per call.
async fn save_only(
    bench: &Bench,
    store: &Arc<PgSessionStore>,
    report: &mut Report,
) -> Result<(), BoxError> {
    let ids: Vec<String> = (0..SESSIONS).map(session_id).collect();
    let by_id = store.get_many(&ids).await?;
    let known: Vec<Session> = ids
        .iter()
        .map(|id| by_id.get(id).cloned().ok_or("session missing"))
        .collect::<Result<_, _>>()?;
    let known = Arc::new(Mutex::new(known));
    let mut rates = Vec::new();
    let mut last = Percentiles::default();
    let mut p95s = Vec::new();
    for _ in 0..bench.settings.reps {
        let (store, known) = (Arc::clone(store), Arc::clone(&known));
        let mut run = run_clients(1, bench.settings.run_time, move |client, n| {
            let (store, known) = (Arc::clone(&store), Arc::clone(&known));
            async move {
                let index = owned_key(client, n, 1, SESSIONS);
                let mut session =
                    known.lock().unwrap_or_else(PoisonError::into_inner)[index].clone();
                session.touch();
                let version = store.save(&session).await?;
                known.lock().unwrap_or_else(PoisonError::into_inner)[index].version = version;
                Ok(())
            }
        })
        .await?;
        rates.push(run.per_second());
        last = run.percentiles();
        p95s.push(last.p95);
    }
    let p95 = median_duration(&mut p95s);
    report.push(Row {
        measurement: "versioned save alone (version known), 1 client".into(),
        gridstore: format!(
            "{}, p95 {} ms (last rep: {})",
            rate(median(&mut rates)),
            ms(p95),
            last.describe()
        ),
        baseline: "-".into(),
        ratio: None,
        target: "p95 ≤ 2 ms".into(),
        verdict: Verdict::from_bool(p95 <= Duration::from_millis(2)),
    });
    Ok(())
}
