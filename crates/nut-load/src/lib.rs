//! A load generator for NUT servers (upsd, stock or ours), on loopback only.
//!
//! `nut-load` opens up to 20,000 connections and sends one of four request mixes:
//! `get` (`GET VAR <ups> <var>` on kept connections, as upsmon polls), `list` (`LIST VAR
//! <ups>`, as upsc and exporters do), `upsc` (a new connection per request: connect, GET,
//! `LOGOUT`, as each upsc run does) and `login-get` (USERNAME, PASSWORD, LOGIN once per
//! connection, then GET, as a logged-in upsmon does); `idle` opens the connections and sends
//! nothing (what each costs the server while it waits).
//!
//! * Closed loop (default): each connection sends its next request when the answer to the
//!   last one is in. Throughput is what server and generator manage together.
//! * Open loop (`--rate R`): requests are due at fixed times, R per second spread over the
//!   connections, and latency counts from when a request was due, not from when it was sent,
//!   so a stalled server is not hidden by requests that were never sent (no coordinated
//!   omission).
//!
//! Latency goes into HDR histograms (1 µs to 60 s, 3 significant digits). With `--pid` the
//! server's CPU time over the measured interval (all threads, in ns from
//! `/proc/<pid>/task/*/schedstat`) is divided by the requests answered, and its RSS
//! (`VmRSS`, `VmHWM`) is read at the end, before the connections close.
//!
//! Every run is bounded: `--duration` (at most 600 s) and `--requests`; the target must be a
//! loopback address.

mod args;
mod conn;
mod proc_stats;
mod report;

use std::time::{Duration, Instant};

pub use args::{Args, Mix, MAX_CONNECTIONS, MAX_SECONDS};
pub use report::Report;

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target is not a loopback address.
    #[error("refusing target {0}: nut-load only talks to loopback (127.0.0.0/8, ::1)")]
    NotLoopback(String),
    /// The target does not name an address.
    #[error("target {0}: {1}")]
    BadTarget(String, String),
    /// An option is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The runtime could not start.
    #[error("tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Not one connection could be made.
    #[error("could not connect to {0}: {1}")]
    Connect(String, #[source] std::io::Error),
}

/// Make the run `args` describes and report it.
pub fn run(args: &Args) -> Result<Report, Error> {
    let route = args.check()?;
    raise_fd_limit(args.connections);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    rt.block_on(async {
        let conns = conn::open_all(route, args).await?;
        // warm-up: the same load, not counted
        let warm = Duration::from_secs_f64(args.warmup);
        let conns = if warm.is_zero() {
            conns
        } else {
            conn::drive(conns, route, args, Instant::now() + warm, None)
                .await
                .0
        };
        let before = args.pid.and_then(proc_stats::cpu_ns);
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(args.duration);
        let (conns, tally) = conn::drive(conns, route, args, deadline, args.requests).await;
        let elapsed = start.elapsed();
        let after = args.pid.and_then(proc_stats::cpu_ns);
        // (read while the connections are still open: `idle` measures what they hold)
        let server = args.pid.map(|pid| proc_stats::ServerStats {
            cpu: match (before, after) {
                (Some(b), Some(a)) => Some(Duration::from_nanos(a.saturating_sub(b))),
                _ => None,
            },
            memory: proc_stats::memory(pid),
        });
        drop(conns);
        Ok(Report::new(args, elapsed, tally, server))
    })
}

/// Raise the soft limit on open files as far as needed (up to the hard limit), so thousands
/// of connections fit.
fn raise_fd_limit(connections: usize) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        let want = (connections as libc::rlim_t + 64).min(lim.rlim_max);
        if want > lim.rlim_cur {
            lim.rlim_cur = want;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
