//! The command line of `escrowgrid-loadgen`.

use clap::{Parser, ValueEnum};

/// Load generator for EscrowGrid with a pgbench baseline.
#[derive(Debug, Parser)]
#[command(name = "escrowgrid-loadgen", version, about)]
pub struct Args {
    /// Backends to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backend,
    /// Client counts (one keep-alive connection each).
    #[arg(long, value_delimiter = ',', default_value = "1,4,32,256")]
    pub clients: Vec<usize>,
    /// Seconds per measured level.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Seconds of unmeasured warm-up per backend.
    #[arg(long, default_value_t = 3)]
    pub warmup_secs: u64,
    /// Repetitions; the table shows medians.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Alternate each level's HTTP load and its pgbench baseline in this many slices of
    /// `--duration-secs / n` whole seconds, summed, so that a drift of the machine (the disk's
    /// fsync latency, a neighbour's load) falls on both sides of the share.
    #[arg(long, default_value_t = 1)]
    pub slices: usize,
    /// Loads: `pairs` (create + transition) and/or `creates` (create only).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "pairs,creates"
    )]
    pub loads: Vec<Load>,
    /// Target a running server instead of starting one in-process (http://host:port).
    #[arg(long, requires = "root_key")]
    pub url: Option<String>,
    /// Start this `escrowgrid` binary (e.g. `target/release/escrowgrid`) as a separate process
    /// (memory, or PostgreSQL on the testkit server or `--database-url`) and report its own CPU
    /// per request (from `/proc/<pid>/stat`).
    #[arg(long, conflicts_with = "url")]
    pub server_bin: Option<std::path::PathBuf>,
    /// With `--backend memory`: also run the same loads, alternating, against this HTTP floor
    /// (`target/release/escrowgrid-floor`: the same HTTP stack answering canned positions, no
    /// application), as a separate process; its rows are the backend `floor`.
    #[arg(long, conflicts_with = "url")]
    pub floor_bin: Option<std::path::PathBuf>,
    /// Instead of the load levels: seed this many positions on the memory backend, then
    /// report resident bytes per position and the latency of deep list pages.
    #[arg(long)]
    pub scale_positions: Option<u64>,
    /// Instead of the load levels: seed this many positions on a testkit PostgreSQL (by SQL)
    /// and time list pages at depth by `offset` and by `cursor`.
    #[arg(long, conflicts_with_all = ["url", "server_bin", "scale_positions"])]
    pub keyset_positions: Option<u64>,
    /// Instead of the load levels: seed this many ledger events of one position on a testkit
    /// PostgreSQL (by SQL) and time the first and the last `GET /ledger-events` page.
    #[arg(long, conflicts_with_all = ["url", "server_bin", "scale_positions", "keyset_positions"])]
    pub keyset_ledger: Option<u64>,
    /// Root key of the `--url` server.
    #[arg(long)]
    pub root_key: Option<String>,
    /// PostgreSQL for the in-process server and pgbench, instead of a throwaway testkit server.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Start the throwaway testkit server durable (`fsync`, `synchronous_commit` and
    /// `full_page_writes` on, PostgreSQL's defaults) instead of with durability off.
    #[arg(long, conflicts_with = "database_url")]
    pub durable: bool,
    /// Also measure PostgreSQL with the API-key cache off (rows `postgres-nokeycache`, a
    /// second server measured alternately with the default one in every run).
    #[arg(long, conflicts_with_all = ["url", "database_url"])]
    pub compare_key_cache: bool,
    /// Pool size of the in-process server.
    #[arg(long, default_value_t = 16)]
    pub pool_max: usize,
    /// Skip the pgbench baseline.
    #[arg(long)]
    pub no_pgbench: bool,
    /// Also run the pgbench baseline without the outbox statements (the outbox's SQL cost).
    #[arg(long)]
    pub outbox_cost: bool,
    /// Instead of a run: write the pgbench scripts of the baseline to this directory
    /// (`pairs.sql` with the outbox, `pairs_no_outbox.sql` without; both with the hash chain)
    /// and exit, for comparisons run by hand (`scripts/outbox_variants.sh`).
    #[arg(long)]
    pub write_pgbench_scripts: Option<std::path::PathBuf>,
    /// Also run the pgbench baseline without the ledger's hash chain (no hash columns, no
    /// chain-head read): the tamper-evident ledger's SQL cost.
    #[arg(long)]
    pub hash_cost: bool,
    /// Instead of the load levels: commit → SSE latency of `GET /events/stream` on
    /// PostgreSQL with a writer at this many creates/s (two events each), `--duration-secs`
    /// per run.
    #[arg(long)]
    pub stream_creates_per_s: Option<u32>,
    /// Instead of the load levels: this many keep-alive connections to an `escrowgrid` child
    /// process on PostgreSQL (pool `--pool-max`), each sending `GET /positions/{id}` so that
    /// `--rate` requests per second arrive in total, for `--duration-secs`; reports errors,
    /// latency and the server's memory per idle connection.
    #[arg(long)]
    pub keep_alive_connections: Option<usize>,
    /// Requests per second in total of `--keep-alive-connections`.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Instead of the load levels: commit → webhook receiver latency on PostgreSQL (an
    /// endpoint for `position.created` on 127.0.0.1) with a writer at this many creates/s,
    /// `--duration-secs` per run (a new endpoint and receiver each run).
    #[arg(long, conflicts_with = "stream_creates_per_s")]
    pub webhook_creates_per_s: Option<u32>,
    /// Instead of the load levels: queue this many on-chain position events (memory backend,
    /// a testkit anvil) per run and measure the sender's drain rate and commit → confirmed
    /// latency at each `--chain-batch-sizes`.
    #[arg(long)]
    pub chain_events: Option<usize>,
    /// `ONCHAIN_RETRY_BATCH_SIZE` values of `--chain-events`; the first is the baseline.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    pub chain_batch_sizes: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Memory,
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Load {
    Pairs,
    Creates,
}
