//! Latency samples and summaries.

use std::time::Duration;

/// Latency samples of one request kind, in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u32>);

impl Samples {
    /// Records one latency.
    pub fn push(&mut self, latency: Duration) {
        self.0
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    /// How many samples there are.
    #[allow(clippy::len_without_is_empty)] // a counter, not a collection API
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Moves every sample of `other` into `self`.
    pub fn absorb(&mut self, mut other: Samples) {
        self.0.append(&mut other.0);
    }

    /// The `q`-quantile (0.0..=1.0, nearest rank) in milliseconds, or `None` without samples.
    pub fn quantile_ms(&mut self, q: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let last = self.0.len() - 1;
        // Nearest-rank index; both conversions are exact for any realistic sample count.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((q * last as f64).round() as usize).min(last);
        Some(f64::from(self.0[rank]) / 1000.0)
    }
}

/// The median of a few measurements (runs), or `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// CPU time (user + system, all threads) of process `pid` (this process when `None`) so far,
/// from `/proc/<pid>/stat` (Linux; `None` elsewhere). `/proc` counts in USER_HZ = 100 ticks per
/// second, so a figure is exact to 10 ms: measure levels long enough for that not to matter.
pub fn process_cpu(pid: Option<u32>) -> Option<Duration> {
    let (_, [user, system, ..]) = read_stat(&proc_path(pid, "stat"))?;
    Some(Duration::from_millis((user + system) * 10))
}

/// CPU time (user + system) of a PostgreSQL cluster so far: its postmaster with the children
/// it has reaped (fields 14–17 of `/proc/<pid>/stat`) plus every live child (backends,
/// background writer, WAL writer, ...), so connections that end between two readings still
/// count. Linux; `None` when the postmaster cannot be read.
pub fn cluster_cpu(postmaster: u32) -> Option<Duration> {
    let (_, own) = read_stat(&format!("/proc/{postmaster}/stat"))?;
    let mut ticks: u64 = own.iter().sum();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A child that exits between the listing and the read is counted in the parent's
        // reaped time at the next reading instead.
        if let Some((_, [user, system, ..])) =
            read_stat(&format!("/proc/{pid}/stat")).filter(|(parent, _)| *parent == postmaster)
        {
            ticks += user + system;
        }
    }
    Some(Duration::from_millis(ticks * 10))
}

/// The parent of process `pid` (Linux; `None` when it cannot be read).
pub fn parent_pid(pid: u32) -> Option<u32> {
    read_stat(&format!("/proc/{pid}/stat")).map(|(parent, _)| parent)
}

/// The parent pid and utime, stime, cutime, cstime (clock ticks) from a `/proc/<pid>/stat`
/// file at `path`.
fn read_stat(path: &str) -> Option<(u32, [u64; 4])> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces: count fields after its closing paren
    // (state, ppid, ...).
    let rest: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    let parent = rest.get(1)?.parse().ok()?;
    let mut f = [0_u64; 4];
    for (i, slot) in f.iter_mut().enumerate() {
        *slot = rest.get(11 + i)?.parse().ok()?;
    }
    Some((parent, f))
}

/// Resident set size in bytes of process `pid` (this process when `None`), from the `VmRSS`
/// line of `/proc/<pid>/status` (Linux; `None` elsewhere).
pub fn resident_bytes(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(proc_path(pid, "status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut s = Samples::default();
        for ms in 1..=100_u64 {
            s.push(Duration::from_millis(ms));
        }
        assert_eq!(s.quantile_ms(0.5), Some(51.0));
        assert_eq!(s.quantile_ms(0.99), Some(99.0));
        assert_eq!(s.quantile_ms(1.0), Some(100.0));
    }

    #[test]
    fn process_cpu_time_is_readable_and_grows() {
        let before = process_cpu(None).expect("linux /proc");
        let mut x = 0_u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        assert!(process_cpu(None).expect("linux /proc") >= before);
        let own = process_cpu(Some(std::process::id())).expect("own pid");
        assert!(own >= before);
    }

    #[test]
    fn resident_bytes_grow_when_memory_is_touched() {
        let before = resident_bytes(None).expect("linux /proc");
        let block = vec![1_u8; 64 << 20];
        let after = resident_bytes(Some(std::process::id())).expect("own pid");
        assert!(after >= before + (32 << 20), "{before} -> {after}");
        assert_eq!(block.iter().map(|b| u64::from(*b)).sum::<u64>(), 64 << 20);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_pair() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
