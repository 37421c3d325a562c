//! Locating the PostgreSQL server programs (`initdb`, `pg_ctl`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::TestkitError;

/// Where Debian and Ubuntu install one directory per major version.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// A directory that holds `initdb` and `pg_ctl` (and, next to them, `postgres`).
#[derive(Debug, Clone)]
pub(crate) struct PgBinaries {
    dir: PathBuf,
}

impl PgBinaries {
    /// Searches `PATH` first, then `/usr/lib/postgresql/*/bin`, newest version first.
    pub(crate) fn find() -> Result<Self, TestkitError> {
        find_in(
            std::env::var_os("PATH").as_deref(),
            Path::new(VERSIONED_ROOT),
        )
        .map(|dir| Self { dir })
        .ok_or(TestkitError::BinariesNotFound)
    }

    /// Uses the given directory, which must hold `initdb` and `pg_ctl`.
    pub(crate) fn in_dir(dir: PathBuf) -> Result<Self, TestkitError> {
        if holds_server_programs(&dir) {
            Ok(Self { dir })
        } else {
            Err(TestkitError::BinariesNotFound)
        }
    }

    /// The `initdb` program.
    pub(crate) fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    /// The `pg_ctl` program.
    pub(crate) fn pg_ctl(&self) -> PathBuf {
        self.dir.join("pg_ctl")
    }

    /// The `pg_basebackup` program (installed with the server programs).
    pub(crate) fn pg_basebackup(&self) -> PathBuf {
        self.dir.join("pg_basebackup")
    }
}

fn holds_server_programs(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

/// The first `PATH` entry holding both programs (resolved through symlinks, so that `pg_ctl`
/// finds `postgres` beside it), else the newest `<root>/<version>/bin`.
fn find_in(path_var: Option<&OsStr>, versioned_root: &Path) -> Option<PathBuf> {
    let on_path = path_var
        .iter()
        .flat_map(std::env::split_paths)
        .find_map(|dir| {
            if !holds_server_programs(&dir) {
                return None;
            }
            let resolved = std::fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
                .filter(|real| holds_server_programs(real));
            Some(resolved.unwrap_or(dir))
        });
    on_path.or_else(|| newest_versioned(versioned_root))
}

fn newest_versioned(root: &Path) -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = parse_version(&entry.file_name().to_string_lossy())?;
            let bin = entry.path().join("bin");
            holds_server_programs(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().next().map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path) {
        std::fs::create_dir_all(dir).expect("create fake bin dir");
        for program in ["initdb", "pg_ctl"] {
            std::fs::write(dir.join(program), "").expect("write fake program");
        }
    }

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("testkit-bin-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    #[test]
    fn version_directory_names_parse_numerically() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("main"), None);
    }

    #[test]
    fn the_newest_versioned_directory_wins_when_path_has_none() {
        let root = scratch();
        fake_bin(&root.join("9.6/bin"));
        fake_bin(&root.join("16/bin"));
        fake_bin(&root.join("15/bin"));
        std::fs::create_dir_all(root.join("17/bin")).expect("create empty bin dir");

        let found = find_in(Some(OsStr::new("/nonexistent")), &root);

        assert_eq!(found, Some(root.join("16/bin")));
        std::fs::remove_dir_all(root).expect("remove scratch dir");
    }

    #[test]
    fn a_path_entry_holding_both_programs_wins() {
        let root = scratch();
        fake_bin(&root.join("16/bin"));
        let on_path = root.join("path");
        fake_bin(&on_path);
        let path_var =
            std::env::join_paths([Path::new("/nonexistent"), &on_path]).expect("join paths");

        let found = find_in(Some(&path_var), &root);

        assert_eq!(found, Some(on_path.canonicalize().expect("canonicalize")));
        std::fs::remove_dir_all(root).expect("remove scratch dir");
    }

    #[test]
    fn nothing_is_found_when_no_directory_holds_the_programs() {
        let root = scratch();
        assert_eq!(find_in(None, &root), None);
        std::fs::remove_dir_all(root).expect("remove scratch dir");
    }
}
