//! The server's CPU time and memory, from /proc.

use std::time::Duration;

/// What `--pid` gives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerStats {
    /// CPU time (user + system) over the measured interval.
    pub(crate) cpu: Option<Duration>,
    /// `VmRSS` and `VmHWM` (peak) in KB at the end.
    pub(crate) memory: Option<(u64, u64)>,
}

/// The CPU time all threads of `pid` have run so far, in nanoseconds (the scheduler's own
/// count in `/proc/<pid>/task/*/schedstat`, not the 10 ms ticks of `/proc/<pid>/stat`).
pub(crate) fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            total += parse_schedstat(&s)?;
        }
    }
    Some(total)
}

/// The first field of a schedstat line: time spent on a CPU, in ns.
fn parse_schedstat(s: &str) -> Option<u64> {
    s.split_whitespace().next()?.parse().ok()
}

/// `VmRSS` and `VmHWM` of `pid` in KB.
pub(crate) fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Some((kb("VmRSS:")?, kb("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_first_field() {
        assert_eq!(parse_schedstat("1234567 890 12\n"), Some(1_234_567));
        assert_eq!(parse_schedstat("garbage"), None);
    }

    #[test]
    fn own_process() {
        let me = std::process::id();
        let a = cpu_ns(me).unwrap_or_default();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0 && cpu_ns(me).unwrap_or_default() > a);
        let (rss, peak) = memory(me).unwrap_or_default();
        assert!(rss > 0 && peak >= rss);
    }
}
