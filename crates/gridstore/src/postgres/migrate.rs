//! Embedded, numbered SQL migrations applied under an advisory lock with checksums.
//!
//! Hand-written rather than refinery: refinery takes no lock, so several instances starting
//! at once race on the same migration, and this is about 150 lines with no new dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use deadpool_postgres::{ClientWrapper, Object};
use sha2::{Digest, Sha256};

use super::PgPool;
use crate::{Error, Result};

/// The longest identifier PostgreSQL keeps without truncating.
const MAX_IDENTIFIER_LEN: usize = 63;
/// Placeholder for the (validated) history table name in the statements below.
const TABLE: &str = "{table}";

/// Lifts the connection's `statement_timeout`: waiting for the lock and running a migration
/// may legitimately take long. The connection is closed afterwards, never pooled again.
const LIFT_STATEMENT_TIMEOUT: &str = "set statement_timeout = 0";
const LOCK: &str = "select pg_advisory_lock($1)";
const UNLOCK: &str = "select pg_advisory_unlock($1)";
const CREATE_HISTORY: &str = "create table if not exists {table} (
    version bigint primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now(),
    execution_ms bigint not null
)";
const SELECT_HISTORY: &str = "select version, name, checksum from {table}";
const INSERT_HISTORY: &str =
    "insert into {table} (version, name, checksum, execution_ms) values ($1, $2, $3, $4)";

/// One numbered SQL migration, usually embedded with `include_str!`.
///
/// Migrations are never edited after they land: [`migrate`] refuses to run when the checksum of
/// an applied one changed. Each runs in a transaction, so statements that cannot run inside one
/// (`create index concurrently`) do not belong here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The migration's number; migrations apply in ascending order.
    pub version: i64,
    /// A short name, e.g. `"create_kv"`.
    pub name: &'static str,
    /// The SQL, possibly several statements.
    pub sql: &'static str,
}

impl Migration {
    /// Returns the lowercase hex SHA-256 of the SQL text, with CRLF line endings read as LF:
    /// a checkout that converts line endings (Git `autocrlf` on Windows) embeds the same
    /// migration, not an edited one.
    pub fn checksum(&self) -> String {
        if self.sql.contains("\r\n") {
            hex::encode(Sha256::digest(self.sql.replace("\r\n", "\n").as_bytes()))
        } else {
            hex::encode(Sha256::digest(self.sql.as_bytes()))
        }
    }
}

/// A row of the history table.
struct Applied {
    name: String,
    checksum: String,
}

/// Applies pending migrations in version order under a session advisory lock
/// (`pg_advisory_lock` on a hash of the history table name), each in its own transaction
/// together with its history row (version, name, sha256 checksum hex, applied_at,
/// execution_ms). Verifies checksums of already-applied ones. Returns the versions applied by
/// this call (empty when everything was already applied, e.g. by a concurrent instance).
///
/// Versions missing from the history are applied even when a later one is recorded already,
/// so migrations merged from parallel branches still run.
///
/// With a [direct server](super::PgConfig::with_direct) configured, everything runs on a
/// connection of its own to that server (a transaction pooler would not keep the session
/// lock). Otherwise the lock is taken on a connection that leaves the pool for good and is closed when the
/// call ends, however it ends: dropping the future mid-run (e.g. under a startup timeout)
/// cannot leave the lock, or the lifted `statement_timeout`, on a pooled connection.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a bad table name or duplicate versions, [`Error::Migration`]
/// when a migration fails (its transaction is rolled back; earlier ones stay applied) or an
/// applied migration's checksum changed, and classified errors for connection failures.
pub async fn migrate(
    pool: &PgPool,
    history_table: &str,
    migrations: &[Migration],
) -> Result<Vec<i64>> {
    validate_table_name(history_table)?;
    let migrations = sorted_unique(migrations)?;
    // A dedicated connection, taken out of the pool for good: whatever happens to this
    // future (an error, a startup timeout, an aborted task), the connection holding the
    // session lock and the lifted statement timeout is closed, never handed back to the pool,
    // so the server always releases the lock.
    // Behind a transaction pooler the session lock needs the direct server.
    let mut client = match pool.config().direct() {
        Some(direct) => direct.connect_session().await?,
        None => Object::take(pool.get().await?),
    };
    let key = lock_key(history_table);
    client.batch_execute(LIFT_STATEMENT_TIMEOUT).await?;
    client.execute(LOCK, &[&key]).await?;
    let result = apply_locked(&mut client, history_table, &migrations).await;
    // Released explicitly too, so a waiting instance does not wait for the disconnect.
    if let Err(err) = client.execute(UNLOCK, &[&key]).await {
        tracing::warn!(error = %err, "could not release migration lock; closing the connection releases it");
    }
    result
}

/// Does the work of [`migrate`] while holding the advisory lock.
async fn apply_locked(
    client: &mut ClientWrapper,
    table: &str,
    migrations: &[Migration],
) -> Result<Vec<i64>> {
    client
        .batch_execute(&CREATE_HISTORY.replace(TABLE, table))
        .await?;
    let applied = load_history(client, table).await?;
    let mut newly_applied = Vec::new();
    for migration in migrations {
        match applied.get(&migration.version) {
            Some(row) => verify(migration, row)?,
            None => {
                apply_one(client, table, migration).await?;
                newly_applied.push(migration.version);
            }
        }
    }
    let known: BTreeSet<i64> = migrations.iter().map(|m| m.version).collect();
    for (version, row) in applied.iter().filter(|(v, _)| !known.contains(v)) {
        tracing::warn!(
            table,
            version,
            name = row.name,
            "database has a migration this binary does not know"
        );
    }
    Ok(newly_applied)
}

/// Reads the history table.
async fn load_history(client: &ClientWrapper, table: &str) -> Result<BTreeMap<i64, Applied>> {
    let rows = client
        .query(&SELECT_HISTORY.replace(TABLE, table), &[])
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<_, i64>(0)?,
                Applied {
                    name: row.try_get(1)?,
                    checksum: row.try_get(2)?,
                },
            ))
        })
        .collect()
}

/// Fails when an applied migration's SQL changed since it ran.
fn verify(migration: &Migration, applied: &Applied) -> Result<()> {
    let checksum = migration.checksum();
    if checksum == applied.checksum {
        return Ok(());
    }
    Err(Error::Migration {
        version: migration.version,
        name: migration.name.to_owned(),
        message: format!(
            "checksum mismatch: applied {} (as {}), now {checksum}; \
             migrations must not be edited after they are applied",
            applied.checksum, applied.name
        ),
    })
}

/// Runs one migration and records it, in one transaction.
async fn apply_one(client: &mut ClientWrapper, table: &str, migration: &Migration) -> Result<()> {
    let failed = |err: tokio_postgres::Error| Error::Migration {
        version: migration.version,
        name: migration.name.to_owned(),
        message: err
            .as_db_error()
            .map_or_else(|| err.to_string(), |db| db.to_string()),
    };
    let started = Instant::now();
    let tx = client.transaction().await?;
    tx.batch_execute(migration.sql).await.map_err(failed)?;
    let execution_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    tx.execute(
        &INSERT_HISTORY.replace(TABLE, table),
        &[
            &migration.version,
            &migration.name,
            &migration.checksum(),
            &execution_ms,
        ],
    )
    .await
    .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    tracing::info!(
        table,
        version = migration.version,
        name = migration.name,
        execution_ms,
        "applied migration"
    );
    Ok(())
}

/// Sorts migrations by version and rejects duplicates.
fn sorted_unique(migrations: &[Migration]) -> Result<Vec<Migration>> {
    let mut sorted = migrations.to_vec();
    sorted.sort_by_key(|m| m.version);
    if let Some(pair) = sorted
        .windows(2)
        .find(|pair| pair[0].version == pair[1].version)
    {
        return Err(Error::InvalidInput(format!(
            "duplicate migration version {}",
            pair[0].version
        )));
    }
    Ok(sorted)
}

/// Accepts plain lowercase identifiers only, since the name is spliced into SQL.
fn validate_table_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let valid_rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid_start && valid_rest && name.len() <= MAX_IDENTIFIER_LEN {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "history table name {name:?} must be a lowercase identifier of at most 63 characters"
        )))
    }
}

/// The advisory lock key: the first 8 bytes of the SHA-256 of the history table name.
fn lock_key(table: &str) -> i64 {
    let digest = Sha256::digest(format!("gridstore.migrate.{table}").as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_must_be_plain_lowercase_identifiers() {
        assert!(validate_table_name("gridstore_migrations").is_ok());
        assert!(validate_table_name("_m1").is_ok());
        assert!(validate_table_name("").is_err());
        assert!(validate_table_name("1abc").is_err());
        assert!(validate_table_name("a; drop table x").is_err());
        assert!(validate_table_name("Mixed").is_err());
        assert!(validate_table_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn duplicate_versions_are_rejected() {
        let m = Migration {
            version: 1,
            name: "a",
            sql: "",
        };
        assert!(sorted_unique(&[m, m]).is_err());
    }

    #[test]
    fn a_checksum_ignores_crlf_line_endings_but_not_edits() {
        let lf = Migration {
            version: 1,
            name: "a",
            sql: "create table a (id int);\ncreate table b (id int);\n",
        };
        let crlf = Migration {
            sql: "create table a (id int);\r\ncreate table b (id int);\r\n",
            ..lf
        };
        let edited = Migration {
            sql: "create table a (id bigint);\ncreate table b (id int);\n",
            ..lf
        };

        assert_eq!(crlf.checksum(), lf.checksum());
        assert_ne!(edited.checksum(), lf.checksum());
        assert_eq!(
            lf.checksum(),
            hex::encode(Sha256::digest(lf.sql.as_bytes())),
            "checksums of LF files are unchanged"
        );
    }

    #[test]
    fn lock_keys_differ_per_table() {
        assert_ne!(lock_key("a_migrations"), lock_key("b_migrations"));
        assert_eq!(lock_key("a_migrations"), lock_key("a_migrations"));
    }
}
