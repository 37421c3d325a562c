//! The baselines: `pgbench -M prepared` custom scripts and `psql \copy`, run against the same
//! server and database as gridstore.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::BoxError;
use crate::setup::Bench;

/// What one pgbench run measured.
#[derive(Debug, Clone)]
pub struct PgbenchRun {
    /// Transactions per second, without connection time (pgbench's own figure).
    pub tps: f64,
    /// Transactions pgbench completed.
    pub transactions: u64,
    /// Per-transaction latencies, when the run was logged (`-l`).
    pub latencies: Vec<Duration>,
}

/// The shell form of a pgbench invocation, for the report (database name elided).
pub fn pgbench_command(script: &str, clients: usize, secs: u64) -> String {
    format!(
        "pgbench -n -M prepared -c {clients} -j {} -T {secs} -f {script} -h 127.0.0.1 -p $PORT -U postgres $DB",
        threads_for(clients)
    )
}

fn threads_for(clients: usize) -> usize {
    clients.min(2)
}

/// Writes a pgbench script into the scratch directory and returns its path.
pub fn write_script(bench: &Bench, name: &str, body: &str) -> Result<PathBuf, BoxError> {
    let path = bench.scratch.path(name);
    std::fs::write(&path, body)?;
    Ok(path)
}

/// Runs `pgbench -n -M prepared` with `clients` clients for the configured time; with `log`
/// it also collects every transaction's latency from pgbench's `-l` logs.
pub async fn pgbench(
    bench: &Bench,
    script: &Path,
    clients: usize,
    log: bool,
) -> Result<PgbenchRun, BoxError> {
    let prefix = bench.scratch.path(&format!(
        "pgbench_log_{}",
        chrono::Utc::now().timestamp_micros()
    ));
    let mut command = Command::new("pgbench");
    command
        .args(["-n", "-M", "prepared"])
        .arg(format!("-c{clients}"))
        .arg(format!("-j{}", threads_for(clients)))
        .arg(format!("-T{}", bench.settings.pgbench_secs()))
        .arg("-f")
        .arg(script)
        .args(["-h", "127.0.0.1", "-U", "postgres"])
        .arg(format!("-p{}", bench.port()));
    if log {
        command
            .arg("-l")
            .arg(format!("--log-prefix={}", prefix.display()));
    }
    command.arg(bench.dbname());
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "pgbench failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let tps = stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| format!("no tps in pgbench output: {stdout}"))?
        .parse()?;
    let transactions = stdout
        .lines()
        .find_map(|line| line.strip_prefix("number of transactions actually processed: "))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .ok_or_else(|| format!("no transaction count in pgbench output: {stdout}"))?
        .parse()?;
    let latencies = if log { read_logs(&prefix)? } else { Vec::new() };
    Ok(PgbenchRun {
        tps,
        transactions,
        latencies,
    })
}

/// Reads every `<prefix>.*` pgbench log: `client_id transaction_no time_us script_no ...`.
fn read_logs(prefix: &Path) -> Result<Vec<Duration>, BoxError> {
    let dir = prefix.parent().ok_or("log prefix has no directory")?;
    let stem = prefix
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("log prefix has no file name")?;
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(stem));
        if !is_log {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let micros: u64 = line
                .split_whitespace()
                .nth(2)
                .ok_or_else(|| format!("short pgbench log line: {line}"))?
                .parse()?;
            latencies.push(Duration::from_micros(micros));
        }
        std::fs::remove_file(&path)?;
    }
    Ok(latencies)
}

/// The shell form of the `\copy` baseline, for the report.
pub fn copy_command(table_and_columns: &str) -> String {
    format!(
        "psql -h 127.0.0.1 -p $PORT -U postgres $DB -c \"\\copy {table_and_columns} from 'events.tsv'\""
    )
}

/// Runs `psql -c "\copy <table (columns)> from '<file>'"` and returns its wall time
/// (including psql's start-up and connection, a few milliseconds).
pub async fn psql_copy(
    bench: &Bench,
    table_and_columns: &str,
    file: &Path,
) -> Result<Duration, BoxError> {
    let mut command = Command::new("psql");
    command
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .arg(format!("-p{}", bench.port()))
        .arg("-d")
        .arg(bench.dbname())
        .arg("-c")
        .arg(format!(
            "\\copy {table_and_columns} from '{}'",
            file.display()
        ));
    let (elapsed, output) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let output = command.output();
        (started.elapsed(), output)
    })
    .await?;
    let output = output?;
    if !output.status.success() {
        return Err(format!(
            "psql \\copy failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(elapsed)
}
