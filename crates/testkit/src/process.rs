//! Child processes and process inspection, without `libc` (this workspace forbids `unsafe`).
//!
//! As root, PostgreSQL programs run as the `postgres` OS user through `runuser`, because
//! `initdb` and `postgres` refuse to run as root.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::TestkitError;

/// The OS user that owns the server files when we run as root.
const SERVER_OS_USER: &str = "postgres";

/// Whether this process runs with effective user id 0.
pub(crate) fn running_as_root() -> bool {
    // `/proc/self` is owned by the effective user id of the process.
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Builds commands for PostgreSQL programs, dropping root privileges when needed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Runner {
    as_server_user: bool,
}

impl Runner {
    /// A runner for the current process: switches to `postgres` when we are root.
    pub(crate) fn for_current_user() -> Self {
        Self {
            as_server_user: running_as_root(),
        }
    }

    /// Whether programs run as the `postgres` OS user.
    pub(crate) fn as_server_user(self) -> bool {
        self.as_server_user
    }

    /// A command that runs `program` as the server's OS user.
    pub(crate) fn command(self, program: &Path) -> Command {
        if self.as_server_user {
            let mut command = Command::new("runuser");
            command.args(["-u", SERVER_OS_USER, "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// Gives `path` (recursively) to the server's OS user; a no-op unless we are root.
    pub(crate) fn hand_over(self, path: &Path) -> Result<(), TestkitError> {
        if !self.as_server_user {
            return Ok(());
        }
        let mut chown = Command::new("chown");
        chown.arg("-R").arg(format!("{SERVER_OS_USER}:")).arg(path);
        run(&mut chown).map(drop)
    }
}

/// Runs a command to completion with stdin closed and returns its combined output; a
/// non-zero exit is an error carrying that output.
pub(crate) fn run(command: &mut Command) -> Result<String, TestkitError> {
    let description = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(TestkitError::io(format!("run {description}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(TestkitError::CommandFailed {
            command: description,
            status: output.status,
            output: text,
        })
    }
}

/// Sends SIGKILL to every process in the process group `pgid`.
pub(crate) fn kill_group(pgid: u32) -> Result<(), TestkitError> {
    // The shell's built-in `kill`: the procps binary is not always installed.
    let mut kill = Command::new("sh");
    kill.args(["-c", r#"kill -s KILL -- "-$1""#, "kill"])
        .arg(pgid.to_string());
    run(&mut kill).map(drop)
}

/// Sends SIGKILL to each process group in `pgids`, skipping groups that no longer exist or
/// do not exist yet (a child that has not called `setsid` is still in its parent's group).
pub(crate) fn kill_groups_if_present(pgids: &[u32]) -> Result<(), TestkitError> {
    if pgids.is_empty() {
        return Ok(());
    }
    let mut kill = Command::new("sh");
    kill.args([
        "-c",
        r#"for g; do kill -s KILL -- "-$g" 2>/dev/null; done; exit 0"#,
        "kill",
    ])
    .args(pgids.iter().map(u32::to_string));
    run(&mut kill).map(drop)
}

/// Sends SIGSTOP to the process `pid`: it runs (and forks) no more until killed.
pub(crate) fn stop(pid: u32) -> Result<(), TestkitError> {
    let mut kill = Command::new("sh");
    kill.args(["-c", r#"kill -s STOP -- "$1""#, "kill"])
        .arg(pid.to_string());
    run(&mut kill).map(drop)
}

/// Whether `pid` is stopped by a signal or no longer alive: once true after [`stop`], every
/// `fork` it made has completed, so its children are all visible in `/proc`.
pub(crate) fn is_stopped_or_dead(pid: u32) -> bool {
    stat(pid).is_none_or(|stat| matches!(stat.state, 'T' | 't' | 'Z' | 'X' | 'x'))
}

/// Whether `pid` names a live process (zombies count as dead: nothing may reap them here).
pub(crate) fn is_alive(pid: u32) -> bool {
    stat(pid).is_some_and(|stat| !is_dead(stat.state))
}

fn is_dead(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

/// Live children of `pid`.
pub(crate) fn live_children(pid: u32) -> Vec<u32> {
    live_processes_where(|stat| stat.ppid == pid)
}

/// Live processes whose process group is `pgid`.
pub(crate) fn live_group_members(pgid: u32) -> Vec<u32> {
    live_processes_where(|stat| stat.pgrp == pgid)
}

fn live_processes_where(wanted: impl Fn(&Stat) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|s| !is_dead(s.state) && wanted(&s)))
        .collect()
}

/// The fields of `/proc/<pid>/stat` we need.
#[derive(Debug)]
struct Stat {
    state: char,
    ppid: u32,
    pgrp: u32,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses `pid (comm) state ppid pgrp ...`; `comm` may itself contain spaces and parentheses.
fn parse_stat(text: &str) -> Option<Stat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, ppid, pgrp })
}

/// Spawns the cleanup watchdog `sh -c script name <this process's pid> args…`: in `/`, without
/// stdio, and in its own process group, so a Ctrl-C to the tests spares it. `what` names it in
/// the error.
pub(crate) fn spawn_watchdog<I, S>(
    script: &str,
    name: &str,
    args: I,
    what: &str,
) -> Result<(), TestkitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(name)
        .arg(std::process::id().to_string())
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(TestkitError::io(format!("spawn the {what}")))
}

/// A shell flag: `1` when `on`, else `0`.
pub(crate) fn flag(on: bool) -> &'static OsStr {
    OsStr::new(if on { "1" } else { "0" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let stat = parse_stat("42 (post gres) (x)) S 1 4242 4242 0 -1").expect("parses");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.pgrp, 4242);
    }

    #[test]
    fn this_process_is_alive() {
        assert!(is_alive(std::process::id()));
    }
}
