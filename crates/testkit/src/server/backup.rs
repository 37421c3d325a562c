//! Base backups and point-in-time recovery: [`TestBaseBackup`].

use std::path::PathBuf;

use super::TestPostgres;
use crate::TestkitError;
use crate::process;

/// A base backup of a [`TestPostgres`] (`pg_basebackup`, with the WAL it needs) in a directory
/// of its own, removed on drop (unless `TESTKIT_KEEP=1`). Start servers from copies of it with
/// [`start_recovery`](Self::start_recovery).
#[derive(Debug)]
pub struct TestBaseBackup {
    dir: PathBuf,
    /// A server that never runs, whose programs and settings recovered servers copy; its
    /// directory is the backup's, removed when it drops.
    template: TestPostgres,
}

impl TestPostgres {
    /// Takes a base backup of this server. Blocking.
    ///
    /// # Errors
    ///
    /// When `pg_basebackup` fails.
    pub fn base_backup(&self) -> Result<TestBaseBackup, TestkitError> {
        let dir = fresh_dir();
        let backup = TestBaseBackup {
            template: self.sibling(dir.clone()),
            dir,
        };
        std::fs::create_dir_all(&backup.dir).map_err(TestkitError::io(format!(
            "create directory {}",
            backup.dir.display()
        )))?;
        self.runner.hand_over(&backup.dir)?;
        let mut command = self.runner.command(&self.binaries.pg_basebackup());
        command
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-X",
                "stream",
                "--no-sync",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-D")
            .arg(backup.dir.join("data"))
            .current_dir(&backup.dir);
        process::run(&mut command)?;
        Ok(backup)
    }

    /// A new, not yet created server with this one's programs and settings in `base_dir`.
    pub(super) fn sibling(&self, base_dir: PathBuf) -> TestPostgres {
        TestPostgres {
            binaries: self.binaries.clone(),
            runner: self.runner,
            settings: self.settings.clone(),
            tls: self.tls.clone(),
            wal_archive: false,
            base_dir,
            port: 0,
            keep: self.keep,
        }
    }
}

impl TestBaseBackup {
    /// Starts a new server from a copy of the backup in recovery (`recovery.signal`) with the
    /// given settings, e.g. `restore_command`, `recovery_target_time` and
    /// `recovery_target_action = promote`, and waits until it accepts connections. Blocking.
    ///
    /// # Errors
    ///
    /// As [`TestPostgres::start`].
    pub fn start_recovery(&self, settings: &[(&str, &str)]) -> Result<TestPostgres, TestkitError> {
        let mut server = self.template.sibling(fresh_dir());
        server.settings.extend(
            settings
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        std::fs::create_dir_all(server.socket_dir()).map_err(TestkitError::io(format!(
            "create directory {}",
            server.socket_dir().display()
        )))?;
        let mut copy = std::process::Command::new("cp");
        copy.arg("-a")
            .arg(self.dir.join("data"))
            .arg(server.data_dir());
        process::run(&mut copy)?;
        std::fs::write(server.data_dir().join("recovery.signal"), "")
            .map_err(TestkitError::io("write recovery.signal"))?;
        server.runner.hand_over(&server.base_dir)?;
        server.append_settings()?;
        server.spawn_watchdog()?;
        server.launch_on_free_port()?;
        Ok(server)
    }
}

fn fresh_dir() -> PathBuf {
    std::env::temp_dir().join(format!("testkit-{}", uuid::Uuid::new_v4().simple()))
}
