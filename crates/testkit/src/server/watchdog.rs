//! A tiny shell process that cleans up a server once the test process is gone.
//!
//! The shared per-binary server lives in a `static`, which is never dropped, and a test
//! process can also die without unwinding. The watchdog notices (within a second) that its
//! parent exited or that the directory was removed by `Drop`, then stops the server and
//! removes its directory (keeping it under `TESTKIT_KEEP=1`). This is cleanup, not a wait
//! for a race: nothing waits on it.

use super::TestPostgres;
use crate::TestkitError;
use crate::process::{flag, spawn_watchdog};

/// `$1` parent pid, `$2` base dir, `$3` pg_ctl, `$4` 1 to run it via runuser, `$5` 1 to keep.
const SCRIPT: &str = r#"
while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
if [ -f "$2/data/postmaster.pid" ]; then
  if [ "$4" = 1 ]; then
    runuser -u postgres -- "$3" stop -s -w -t 30 -m immediate -D "$2/data"
  else
    "$3" stop -s -w -t 30 -m immediate -D "$2/data"
  fi
fi
[ "$5" = 1 ] || rm -rf "$2"
"#;

impl TestPostgres {
    /// Spawns the watchdog in its own process group, so a Ctrl-C to the tests spares it.
    pub(super) fn spawn_watchdog(&self) -> Result<(), TestkitError> {
        let pg_ctl = self.binaries.pg_ctl();
        let args = [
            self.base_dir.as_os_str(),
            pg_ctl.as_os_str(),
            flag(self.runner.as_server_user()),
            flag(self.keep),
        ];
        spawn_watchdog(SCRIPT, "testkit-watchdog", args, "cleanup watchdog")
    }
}
