//! The baseline: the API's write transactions replayed by `pgbench -M prepared`.
//!
//! One pgbench "transaction" is one run of the script, i.e. one create + transition pair:
//! the same two database transactions the PostgreSQL store commits for `POST /positions` and
//! `POST /positions/:id/transition` (see [`script`]), without HTTP, auth, validation or the
//! reads the API does first. Latencies come from pgbench's per-transaction log (`-l`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::BoxError;
use crate::load::Fixture;
use crate::stats::Samples;

/// What one pgbench run measured.
#[derive(Debug, Default)]
pub struct BaselineOutcome {
    /// Script runs (pairs) per second, excluding connection time.
    pub tps: f64,
    /// Completed script runs.
    pub pairs: u64,
    /// Failed script runs reported by pgbench.
    pub failed: u64,
    /// Latency of whole script runs.
    pub pair_latency: Samples,
}

impl BaselineOutcome {
    /// Adds `other` (a later slice of the same level): pairs, failures and samples summed, the
    /// rate that of all pairs over the time of both runs (each without its connection time).
    pub fn absorb(&mut self, other: BaselineOutcome) {
        let seconds = self.seconds() + other.seconds();
        self.pairs += other.pairs;
        self.failed += other.failed;
        self.pair_latency.absorb(other.pair_latency);
        #[allow(clippy::cast_precision_loss)]
        let pairs = self.pairs as f64;
        self.tps = if seconds > 0.0 { pairs / seconds } else { 0.0 };
    }

    /// The time the run's pairs took at its rate.
    fn seconds(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let pairs = self.pairs as f64;
        if self.tps > 0.0 {
            pairs / self.tps
        } else {
            0.0
        }
    }
}

/// Finds `pgbench` on PATH or under `/usr/lib/postgresql/*/bin` (newest first).
pub fn find() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbench"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin/pgbench")))
            .filter(|p| p.is_file())
            .collect();
        dirs.sort_by_key(|p| {
            p.components()
                .nth(4)
                .and_then(|c| c.as_os_str().to_str()?.parse::<u32>().ok())
        });
        dirs.pop()
    })
}

/// The pgbench script: the store's statements for create and for transition, with pgbench
/// variables in place of the bind parameters (`:inst`, `:asset`, `:key` come from `-D`;
/// `:client_id` and a random `:r` make the ids unique). With `outbox`, each transaction also
/// appends its domain events to `gs_events`, as the store does; without, it measures what the
/// writes cost without the outbox. With `hashing`, the ledger rows carry the hash chain's
/// columns and the transition reads its chain head, as the store does; without, what the
/// writes cost without the tamper-evident ledger.
pub fn script(outbox: bool, hashing: bool) -> String {
    const ID: &str = ":client_id || '_' || :r";
    let position_id = format!("'pos_pgb_' || {ID}");
    let fill = |statement: &str| statement.replace("{pos}", &position_id).replace("{id}", ID);
    let hashed = |statement: &str, chained: bool| {
        if hashing {
            crate::sql::with_hash(statement, chained)
        } else {
            statement.to_owned()
        }
    };
    let mut s = String::from("\\set r random(1, 9000000000000000)\n");
    s.push_str("begin;\n");
    for statement in crate::sql::CREATE {
        s.push_str(&fill(&hashed(statement, false)));
        s.push_str(";\n");
    }
    if outbox {
        s.push_str(&fill(crate::sql::CREATE_OUTBOX));
        s.push_str(";\n");
    }
    s.push_str("commit;\nbegin;\n");
    if hashing {
        s.push_str(&fill(crate::sql::LAST_HASH));
        s.push_str(";\n");
    }
    for statement in crate::sql::TRANSITION {
        s.push_str(&fill(&hashed(statement, true)));
        s.push_str(";\n");
    }
    if outbox {
        s.push_str(&fill(crate::sql::TRANSITION_OUTBOX));
        s.push_str(";\n");
    }
    s.push_str("commit;\n");
    s
}

/// How long pgbench runs.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// `-T seconds`.
    Duration(Duration),
    /// `-t transactions` per client (used by the script test).
    #[cfg(test)]
    Transactions(u32),
}

/// Runs `pgbench -M prepared -f script -c clients -j 2 (-T secs | -t n)` against
/// `database_url`.
pub fn run(
    pgbench: &Path,
    database_url: &str,
    fixture: &BaselineIds,
    clients: usize,
    limit: Limit,
    outbox: bool,
    hashing: bool,
) -> Result<BaselineOutcome, BoxError> {
    let limit_args = match limit {
        Limit::Duration(d) => ["-T".to_owned(), d.as_secs().max(1).to_string()],
        #[cfg(test)]
        Limit::Transactions(n) => ["-t".to_owned(), n.to_string()],
    };
    let dir = std::env::temp_dir().join(format!("escrowgrid-pgbench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let script_path = dir.join("pair.sql");
    std::fs::write(&script_path, script(outbox, hashing))?;
    let output = Command::new(pgbench)
        .arg("-n")
        .args(["-M", "prepared"])
        .arg("-f")
        .arg(&script_path)
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
        ])
        .args(limit_args)
        .args(["-D", &format!("inst={}", fixture.institution_id)])
        .args(["-D", &format!("asset={}", fixture.asset_id)])
        .args(["-D", &format!("key={}", fixture.api_key_id)])
        .arg("-l")
        .arg(format!("--log-prefix={}", dir.join("log").display()))
        .arg(database_url)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "pgbench failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let mut outcome = parse_summary(&stdout)?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("log"))
        {
            read_log(&path, &mut outcome.pair_latency)?;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(outcome)
}

/// Ids the script needs besides its own.
#[derive(Debug, Clone)]
pub struct BaselineIds {
    /// Institution of the positions.
    pub institution_id: String,
    /// Asset of the positions.
    pub asset_id: String,
    /// The API key id written into audit rows.
    pub api_key_id: String,
}

impl BaselineIds {
    /// The ids of a load fixture.
    pub fn of(fixture: &Fixture) -> Self {
        Self {
            institution_id: fixture.institution_id.clone(),
            asset_id: fixture.asset_id.clone(),
            api_key_id: fixture.admin_key_id.clone(),
        }
    }
}

fn parse_summary(stdout: &str) -> Result<BaselineOutcome, BoxError> {
    let mut outcome = BaselineOutcome::default();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("tps = ") {
            outcome.tps = rest.split_whitespace().next().unwrap_or("0").parse()?;
        } else if let Some(rest) = line.strip_prefix("number of transactions actually processed: ")
        {
            outcome.pairs = rest.split(['/', ' ']).next().unwrap_or("0").parse()?;
        } else if let Some(rest) = line.strip_prefix("number of failed transactions: ") {
            outcome.failed = rest.split_whitespace().next().unwrap_or("0").parse()?;
        }
    }
    if outcome.tps <= 0.0 {
        return Err(format!("cannot read tps from pgbench output:\n{stdout}").into());
    }
    Ok(outcome)
}

/// Per-transaction log lines: `client_id transaction_no time_us script_no epoch epoch_us`.
fn read_log(path: &Path, samples: &mut Samples) -> Result<(), BoxError> {
    for line in std::fs::read_to_string(path)?.lines() {
        if let Some(us) = line
            .split_whitespace()
            .nth(2)
            .and_then(|t| t.parse::<u64>().ok())
        {
            samples.push(Duration::from_micros(us));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "\
        insert into institutions (id, name, regions, verticals, created_at, updated_at) \
        values ('inst_b', 'Bench', array['US'], array['CONSTRUCTION'], now(), now()); \
        insert into asset_templates (id, institution_id, code, name, vertical, region, config, \
            created_at, updated_at) \
        values ('tmpl_b', 'inst_b', 'CONSTR_ESCROW', 'Escrow', 'CONSTRUCTION', 'US', \
            '{\"currency\":\"USD\",\"region\":\"US\"}', now(), now()); \
        insert into assets (id, institution_id, template_id, label, metadata, created_at, \
            updated_at) \
        values ('ast_b', 'inst_b', 'tmpl_b', 'Tower', '{}', now(), now());";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_generated_script_runs_against_the_migrated_schema() {
        // Arrange
        let db = testkit::database().await;
        let config = gridstore::postgres::PgConfig::from_url(db.url()).expect("url");
        let store = escrowgrid::store::postgres::PgEscrowStore::connect(&config)
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        let sql = db.connect().await;
        sql.batch_execute(FIXTURE).await.expect("fixture");
        let pgbench = find().expect("pgbench not found: install postgresql-client");
        let ids = BaselineIds {
            institution_id: "inst_b".to_owned(),
            asset_id: "ast_b".to_owned(),
            api_key_id: "ak_b".to_owned(),
        };

        // Act
        let url = db.url().to_owned();
        let mut outcome = tokio::task::spawn_blocking(move || {
            run(&pgbench, &url, &ids, 2, Limit::Transactions(5), true, true)
        })
        .await
        .expect("join")
        .expect("pgbench runs the script");

        // Assert
        assert_eq!((outcome.pairs, outcome.failed), (10, 0));
        assert!(outcome.pair_latency.quantile_ms(1.0).is_some());
        let count = |q: &'static str| {
            let sql = &sql;
            async move { sql.query_one(q, &[]).await.expect(q).get::<_, i64>(0) }
        };
        assert_eq!(
            count("select count(*) from positions where state = 'FUNDED' and version = 2").await,
            10
        );
        assert_eq!(count("select count(*) from position_events").await, 10);
        assert_eq!(count("select count(*) from ledger_events").await, 20);
        assert_eq!(
            count("select count(*) from ledger_events where hash is not null").await,
            20,
            "every ledger row carries its hash, as the store writes it"
        );
        assert_eq!(
            count("select count(*) from ledger_events where previous_hash is not null").await,
            10,
            "each transition's event is chained to its creation's"
        );
        assert_eq!(count("select count(*) from audit_events").await, 20);
        assert_eq!(count("select count(*) from gs_events").await, 40);
    }

    #[test]
    fn slices_add_up_to_all_pairs_over_the_time_of_both_runs() {
        let mut first = BaselineOutcome {
            tps: 100.0,
            pairs: 200,
            failed: 1,
            ..BaselineOutcome::default()
        };
        let second = BaselineOutcome {
            tps: 50.0,
            pairs: 100,
            failed: 2,
            ..BaselineOutcome::default()
        };

        first.absorb(second);

        assert_eq!((first.pairs, first.failed), (300, 3));
        assert!((first.tps - 75.0).abs() < 1e-9, "300 pairs in 2 + 2 s");
    }

    #[test]
    fn the_summary_parser_reads_tps_and_counts() {
        let out = "transaction type: pair.sql\nnumber of transactions actually processed: 5300\n\
                   number of failed transactions: 0 (0.000%)\nlatency average = 6.02 ms\n\
                   initial connection time = 9.1 ms\ntps = 530.123 (without initial connection time)\n";
        let parsed = parse_summary(out).expect("parses");
        assert!((parsed.tps - 530.123).abs() < 1e-9);
        assert_eq!((parsed.pairs, parsed.failed), (5300, 0));
    }

    #[test]
    fn the_script_has_two_transactions_and_no_unfilled_placeholders() {
        let s = script(true, true);
        assert_eq!(s.matches("gs_events").count(), 2);
        assert!(!script(false, true).contains("gs_events"));
        assert_eq!(s.matches("previous_hash").count(), 2);
        assert!(s.contains("order by seq desc limit 1"));
        assert!(!script(true, false).contains("hash"));
        assert_eq!(s.matches("begin;").count(), 2);
        assert_eq!(s.matches("commit;").count(), 2);
        assert!(!s.contains("{pos}"));
        assert!(!s.contains("{id}"));
    }
}
