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

/// utime + stime of `pid`, in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ticks(&stat)
}

/// Fields 14 and 15 of a /proc/<pid>/stat line (after the command in parentheses, which may
/// hold spaces).
fn parse_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

pub(crate) fn ticks_to_duration(ticks: u64) -> Duration {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / hz as f64)
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
    fn ticks_after_a_command_with_spaces() {
        let stat = "1234 (up sd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1 1 1";
        assert_eq!(parse_ticks(stat), Some(325));
        assert_eq!(parse_ticks("garbage"), None);
    }

    #[test]
    fn own_process() {
        let me = std::process::id();
        assert!(cpu_ticks(me).is_some());
        let (rss, peak) = memory(me).unwrap_or_default();
        assert!(rss > 0 && peak >= rss);
    }
}
