//! A 1,000-item `save_many` against 1,000 single `save`s, and what one `save_many` sends to the
//! server (counted with `pg_stat_statements`).

use std::time::Instant;

use gridstore::postgres::PgSessionStore;
use gridstore::{Session, SessionState, SessionStore};

use crate::BoxError;
use crate::data::session_payload;
use crate::report::{Report, Row, Verdict, median_duration, ms};
use crate::setup::Bench;

const BATCH: usize = 1_000;

/// Statements executed in this database since the last reset, ours excluded.
const STATEMENTS: &str = "
select calls, regexp_replace(left(query, 60), '\\s+', ' ', 'g')
  from pg_stat_statements s
  join pg_database d on d.oid = s.dbid
 where d.datname = current_database()
   and query not ilike '%pg_stat_statements%'
 order by calls desc, query";

/// Times 1,000 single saves and one 1,000-item batch of the same sessions (updates with known
/// versions), then counts the statements of one batch.
pub async fn batch(bench: &Bench, report: &mut Report) -> Result<(), BoxError> {
    let store = PgSessionStore::new(bench.pool.clone());
    let mut sessions: Vec<Session> = (0..BATCH)
        .map(|i| Session::new(format!("b-{i}"), SessionState::Active, session_payload(i)))
        .collect();
    let created = store.save_many(&sessions).await?;
    apply_versions(&mut sessions, &created);

    let mut singles = Vec::new();
    let mut batches = Vec::new();
    for rep in 0..bench.settings.reps {
        let started = Instant::now();
        for session in &mut sessions {
            session.touch();
            session.version = store.save(session).await?;
        }
        singles.push(started.elapsed());
        for _ in 0..3 {
            sessions.iter_mut().for_each(Session::touch);
            let started = Instant::now();
            let versions = store.save_many(&sessions).await?;
            batches.push(started.elapsed());
            apply_versions(&mut sessions, &versions);
        }
        println!(
            "  rep {rep}: 1,000 single saves {} ms, batch {} ms",
            ms(singles[rep]),
            ms(batches[batches.len() - 1])
        );
    }
    let single = median_duration(&mut singles);
    let batched = median_duration(&mut batches);
    let speedup = single.as_secs_f64() / batched.as_secs_f64();
    report.push(Row {
        measurement: "1,000-item save_many vs 1,000 single saves".into(),
        gridstore: format!("{} ms per batch ({speedup:.1}× faster)", ms(batched)),
        baseline: format!("{} ms for 1,000 single saves", ms(single)),
        ratio: None,
        target: "≥ 10× faster".into(),
        verdict: Verdict::from_bool(speedup >= 10.0),
    });

    let statements = count_statements(bench, &store, &mut sessions).await?;
    report.push(Row {
        measurement: "statements executed by one 1,000-item save_many (pg_stat_statements)".into(),
        gridstore: statements,
        baseline: "-".into(),
        ratio: None,
        target: "one round trip".into(),
        verdict: Verdict::Info,
    });
    Ok(())
}

fn apply_versions(sessions: &mut [Session], versions: &[u64]) {
    for (session, version) in sessions.iter_mut().zip(versions) {
        session.version = *version;
    }
}

/// Resets `pg_stat_statements`, runs one batch and lists what the server executed.
async fn count_statements(
    bench: &Bench,
    store: &PgSessionStore,
    sessions: &mut [Session],
) -> Result<String, BoxError> {
    let stats = bench.pool.get().await?;
    stats
        .batch_execute("select pg_stat_statements_reset()")
        .await?;
    let versions = store.save_many(sessions).await?;
    apply_versions(sessions, &versions);
    // The reset and this read are filtered out; nothing else runs meanwhile.
    let rows = stats.query(STATEMENTS, &[]).await?;
    let listed: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{}× `{}`",
                row.get::<_, i64>(0),
                row.get::<_, String>(1).trim()
            )
        })
        .collect();
    let total: i64 = rows.iter().map(|row| row.get::<_, i64>(0)).sum();
    Ok(format!("{total} statements: {}", listed.join(", ")))
}
