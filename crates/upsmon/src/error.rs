//! Why upsmon cannot start, or cannot take a configuration.

use std::path::PathBuf;

/// Why upsmon cannot start, or cannot take a configuration. Each displays as the line upsmon
/// prints (after `upsmon: `), the system's reason included.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Σ power values < `MINSUPPLIES`: this host could never be considered powered.
    #[error(
        "insufficient power configured: the sum of power values is {total}, MINSUPPLIES is {minsupplies}"
    )]
    InsufficientPower {
        /// Σ power values of the `MONITOR` lines.
        total: u64,
        /// `MINSUPPLIES`.
        minsupplies: u32,
    },
    /// Neither /etc/nut nor /etc/ups exists and `NUT_CONFPATH` is not set.
    #[error(transparent)]
    ConfPath(#[from] nut_daemon::ConfPathError),
    /// upsmon.conf could not be read.
    #[error("Can't open {}: {source}", file.display())]
    ReadConf {
        /// The file.
        file: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// upsmon.conf is wrong (`file:line: ...`).
    #[error(transparent)]
    Conf(#[from] nut_conf::ConfError),
    /// A start-up check failed (NUT's `Fatal error: ...`).
    #[error("Fatal error: {0}")]
    Fatal(#[source] Box<Error>),
    /// The PID file names a running upsmon.
    #[error("A previous upsmon instance is already running! (PID {pid})")]
    AlreadyRunning {
        /// The running one.
        pid: i32,
    },
    /// `-c`: the PID file could not be read or the signal not sent.
    #[error(transparent)]
    Command(#[from] nut_daemon::PidError),
    /// The monitoring user could not be found or become.
    #[error("{step}: {source}")]
    User {
        /// What was being done.
        step: &'static str,
        /// Why it failed.
        source: nut_daemon::PrivError,
    },
    /// A system call of the start-up failed (fork, pipe, daemon, the runtime).
    #[error("{step}: {source}")]
    System {
        /// What was being done.
        step: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
}

impl Error {
    /// A failed system call during `step`.
    pub(crate) fn system(step: &'static str, source: impl Into<std::io::Error>) -> Error {
        Error::System {
            step,
            source: source.into(),
        }
    }
}
