//! The `escrowgrid` command line: `serve`, `migrate`, `ledger verify`, `print-config`.
//!
//! `src/main.rs` only calls [`main`]; everything else lives here and in [`crate::server`] so it
//! can be tested and reused by the benchmark.

pub mod ledger;
pub mod logging;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rand::RngCore;
use tokio::net::TcpListener;

use crate::config::{EXAMPLE_TOML, Secret, Settings, SettingsArgs};
use crate::server;
use crate::{Error, Result};

/// EscrowGrid: escrow / tokenization-as-a-service REST API on memory or PostgreSQL.
///
/// Settings come from flags > environment variables > `--config` file > defaults.
#[derive(Debug, Parser)]
#[command(name = "escrowgrid", version, about)]
pub struct Cli {
    /// TOML configuration file (see `escrowgrid print-config`) [env: ESCROWGRID_CONFIG]
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API (memory backend unless STORE_BACKEND=postgres).
    Serve(SettingsArgs),
    /// Apply pending PostgreSQL migrations to DATABASE_URL and exit.
    Migrate(SettingsArgs),
    /// The tamper-evident ledger (in DATABASE_URL).
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Print an example configuration file with every key and its default.
    PrintConfig,
}

/// Entry point of the binary: parses the command line, runs it, maps errors to exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("escrowgrid: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command line to completion.
///
/// # Errors
///
/// Configuration errors, bind failures, store connection or migration failures.
pub fn run(cli: Cli) -> Result<()> {
    let config_path = cli
        .config
        .or_else(|| std::env::var_os("ESCROWGRID_CONFIG").map(PathBuf::from));
    let args = match &cli.command {
        Command::Serve(args) | Command::Migrate(args) => args,
        Command::Ledger(command) => command.settings(),
        Command::PrintConfig => return print_config(),
    };
    let settings = Settings::load(config_path.as_deref(), args)?;
    let _telemetry = logging::init(&settings.log)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = settings.server.worker_threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.enable_all().build()?;
    match cli.command {
        Command::Serve(_) => runtime.block_on(serve(settings)),
        Command::Migrate(_) => runtime.block_on(migrate(&settings)),
        Command::Ledger(command) => {
            if runtime.block_on(ledger::run(&command, &settings))? {
                Ok(())
            } else {
                Err(Error::LedgerBroken)
            }
        }
        Command::PrintConfig => Ok(()),
    }
}

fn print_config() -> Result<()> {
    std::io::stdout().write_all(EXAMPLE_TOML.as_bytes())?;
    Ok(())
}

async fn serve(mut settings: Settings) -> Result<()> {
    if settings.auth.root_api_key.is_none() {
        let key = generate_root_key();
        announce_generated_root_key(&key);
        settings.auth.root_api_key = Some(Secret::new(key));
    }
    let addr = SocketAddr::new(settings.server.host, settings.server.port);
    let listener = TcpListener::bind(addr).await.map_err(|e| Error::Config {
        key: "PORT".to_owned(),
        message: format!("cannot bind {addr}: {e}"),
    })?;
    server::serve(settings, listener, server::shutdown_signal()).await
}

async fn migrate(settings: &Settings) -> Result<()> {
    let applied = server::migrate(settings).await?;
    let mut out = std::io::stdout();
    if applied.is_empty() {
        writeln!(out, "database is up to date; no migration applied")?;
    } else {
        let list: Vec<String> = applied.iter().map(ToString::to_string).collect();
        writeln!(out, "applied migrations: {}", list.join(", "))?;
    }
    Ok(())
}

/// A fresh root key: `root_` followed by 48 lowercase hex digits (24 random bytes).
pub fn generate_root_key() -> String {
    let mut bytes = [0_u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("root_{}", hex::encode(bytes))
}

/// Prints a generated root key once to stderr, never through the logger.
fn announce_generated_root_key(key: &str) {
    eprintln!(
        "WARNING: ROOT_API_KEY is not set, so a root key was generated for this process only.\n\
         It is shown once here and never logged; set ROOT_API_KEY to keep a stable key.\n\n    \
         {key}\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_root_key_is_root_underscore_and_48_hex_digits() {
        let key = generate_root_key();
        let hex_part = key.strip_prefix("root_").expect("prefix");
        assert_eq!(hex_part.len(), 48);
        assert!(
            hex_part
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(key, generate_root_key());
    }

    #[test]
    fn the_command_line_parses_serve_flags_and_a_global_config_path() {
        let cli = Cli::try_parse_from([
            "escrowgrid",
            "serve",
            "--port",
            "8080",
            "--config",
            "x.toml",
        ])
        .expect("parses");
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        let Command::Serve(args) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(args.port, Some(8080));
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
