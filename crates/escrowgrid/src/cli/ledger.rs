//! `escrowgrid ledger verify`: recomputes every hash chain of the PostgreSQL ledger at
//! `DATABASE_URL` (whatever `STORE_BACKEND` says; the memory backend's ledger lives inside
//! its serving process: ask `GET /ledger/verify` there) and reports OK or the first break.
//!
//! Progress goes to stderr: a bar redrawn in place on a terminal, plain lines otherwise.
//! The exit status is 0 when every chain verifies, 1 otherwise.

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};

use crate::config::{Settings, SettingsArgs};
use crate::domain::InstitutionId;
use crate::ledger::{Verification, verify_store};
use crate::server;
use crate::store::Scope;
use crate::store::postgres::PgEscrowStore;
use crate::{Error, Result};

/// `escrowgrid ledger ...`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Verify the ledger's hash chains in DATABASE_URL (exit status 1 on a break).
    Verify(VerifyArgs),
}

/// Flags of `escrowgrid ledger verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify only this institution's chains.
    #[arg(long)]
    pub institution_id: Option<String>,
    /// Store and logging settings, as for `serve`.
    #[command(flatten)]
    pub settings: SettingsArgs,
}

impl LedgerCommand {
    /// The settings flags of the subcommand.
    #[must_use]
    pub fn settings(&self) -> &SettingsArgs {
        match self {
            Self::Verify(args) => &args.settings,
        }
    }
}

/// Runs a `ledger` subcommand; `Ok(false)` when verification found a break.
///
/// # Errors
///
/// A malformed institution id, connection or read failures.
pub async fn run(command: &LedgerCommand, settings: &Settings) -> Result<bool> {
    let LedgerCommand::Verify(args) = command;
    let scope = match &args.institution_id {
        Some(raw) => {
            Scope::Institution(raw.parse::<InstitutionId>().map_err(|_| Error::Config {
                key: "--institution-id".to_owned(),
                message: format!("not an institution id: {raw}"),
            })?)
        }
        None => Scope::Root,
    };
    let config = server::pg_config(settings)?.with_pool_max_size(1);
    let store = PgEscrowStore::connect(&config).await?;
    let mut err = std::io::stderr();
    let terminal = err.is_terminal();
    let report = verify_store(&store, &scope, |done, total| {
        // Progress is best effort: a closed stderr must not stop the verification.
        let _ = if terminal {
            write!(err, "\r{} {done}/{total} events", bar(done, total))
        } else {
            writeln!(err, "verified {done}/{total} events")
        };
    })
    .await;
    store.pool().close();
    let report = report?;
    if terminal {
        let _ = writeln!(err);
    }
    print_report(&report)?;
    Ok(report.ok)
}

/// A 30-cell bar such as `[#########.....................]`.
fn bar(done: usize, total: usize) -> String {
    let filled = (done * 30).checked_div(total).unwrap_or(30);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(30 - filled))
}

fn print_report(report: &Verification) -> Result<()> {
    let mut out = std::io::stdout();
    if let Some(found) = &report.first_break {
        let reason = serde_json::to_value(found.reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        writeln!(
            out,
            "BROKEN: event {} of position {} (#{} in write order): {reason} ({})",
            found.event_id, found.position_id, found.index, found.detail
        )?;
    }
    if let Some(found) = &report.checkpoint_break {
        writeln!(
            out,
            "BROKEN: checkpoint {}: {} ({})",
            found.number, found.reason, found.detail
        )?;
    }
    if report.ok {
        writeln!(
            out,
            "OK: {} events in {} chains and {} checkpoints verified ({} written before hashing \
             started)",
            report.events_checked,
            report.chains_checked,
            report.checkpoints_checked,
            report.unhashed_events
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn the_progress_bar_fills_in_proportion_and_is_full_for_an_empty_ledger() {
        assert_eq!(bar(0, 10), format!("[{}]", ".".repeat(30)));
        assert_eq!(
            bar(5, 10),
            format!("[{}{}]", "#".repeat(15), ".".repeat(15))
        );
        assert_eq!(bar(0, 0), format!("[{}]", "#".repeat(30)));
    }
}
