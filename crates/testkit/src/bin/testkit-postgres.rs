//! `testkit-postgres`: starts one throwaway PostgreSQL server (as the tests do), prints its
//! connection URL (database `postgres`, superuser `postgres`) on one stdout line, and keeps it
//! running until SIGTERM or SIGINT, then stops it and removes its directory. For scripts that
//! need a real server outside `cargo test`, e.g. `.ci/schemathesis`. If this process is
//! killed outright, testkit's watchdog stops the server.

use std::io::Write;
use std::process::ExitCode;

use testkit::TestPostgres;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let server = match TestPostgres::start() {
        Ok(server) => server,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "testkit-postgres: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", server.url("postgres"))
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(stdout);
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        let _ = writeln!(
            std::io::stderr(),
            "testkit-postgres: cannot listen for signals"
        );
        return ExitCode::FAILURE;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    drop(server);
    ExitCode::SUCCESS
}
