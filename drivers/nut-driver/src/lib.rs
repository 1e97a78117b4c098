//! What every NUT-style driver of nut-rs shares, so that a driver is a device [`Backend`] and
//! a description of itself ([`DriverInfo`]), and its binary is one call to [`main`]:
//!
//! * [`config`]: the ups.conf section and `-x` arguments, checked against the core keys and
//!   the driver's option table, and published as `driver.parameter.*` / `driver.flag.*`, with
//!   `default.*` and `override.*`;
//! * [`backend`]: the [`Backend`] trait a device implementation provides;
//! * `dstate`: the driver state and the driver-socket protocol as a pure state machine (NUT's
//!   `dstate.c`), with `diff` giving the broadcast lines for a change of the tree;
//! * `server`: the socket, the poll loop with device events, stale/reconnect handling,
//!   signals;
//! * `startup`: the tree a driver starts with ([`init_tree`]), `-d`, and serving in the
//!   background with its PID file and reload;
//! * `control`: `-k` (kill power) and `-c <command>`, through the running driver's socket
//!   ([`query`]) when there is one;
//! * [`static_dev`]: a device-less backend serving a `.dev` file (`backend = static:<file>`);
//! * `cli`: NUT's driver command line ([`main`]), its `-h` text and `-L` list from the option
//!   table.

pub mod backend;
mod cli;
pub mod config;
mod control;
mod diff;
mod dstate;
pub mod query;
mod server;
mod startup;
pub mod static_dev;

use std::path::PathBuf;
use std::time::Duration;

pub use backend::{Backend, BackendError, CmdResult};
pub use cli::main;
pub use config::{DriverConfig, DriverOption};
/// The driver core without I/O, public for the whole-stack simulation (`crates/nut-sim`).
pub use dstate::{ConnId, Core, Output};
pub use startup::{copy_device_strings, init_tree, Started};

/// Our release, published as `driver.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the framework needs to know about a driver.
#[derive(Debug, Clone, Copy)]
pub struct DriverInfo {
    /// The program name when argv\[0\] has none (`usbhid-ups`).
    pub program: &'static str,
    /// The name in the banner (`Network UPS Tools - <description> <version> (<release>)`).
    pub description: &'static str,
    /// The driver's own version, published as `driver.version.internal`.
    pub version: &'static str,
    /// The ups.conf / `-x` options the driver reads, beyond the core ones: what the
    /// configuration accepts, and what `-h` and `-L` print.
    pub options: &'static [DriverOption],
    /// Opens the device backend for a configuration. `backend = static:<file>` is served by
    /// the framework and never gets here.
    pub open: OpenFn,
    /// Runs before the driver drops root (and before `-k`), with the configuration: what only
    /// root may do for the device (usbhid-ups binds usbhid again to a unit libusb left
    /// without a driver). It reports what it does itself.
    pub prepare: Option<fn(&DriverConfig, Prepare)>,
}

/// What follows [`DriverInfo::prepare`] in the same process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Prepare {
    /// The driver itself (or `-k`), once root is dropped.
    Driver,
    /// Nothing: `--prepare` (`upsdrvctl prepare`, a service manager's privileged pre-start);
    /// the driver runs later as another process, without root.
    Alone,
}

/// How a driver opens its device backend ([`DriverInfo::open`]).
pub type OpenFn = fn(&DriverConfig, OpenFor) -> Result<Box<dyn Backend>, OpenError>;

/// Why the driver opens its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFor {
    /// To serve it (or dump it with `-d`).
    Serve,
    /// For `-k` without a running driver: only to kill the power (nothing is recorded).
    KillPower,
}

/// Why a driver could not open its backend (its own error type, boxed).
pub type OpenError = Box<dyn std::error::Error + Send + Sync>;

/// Why a driver stops or a request to a driver failed. The messages are stock NUT's where it
/// has one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An unknown ups.conf or `-x` key (`flag`: it had no value).
    #[error("Fatal error: '{name}' is not a valid {} for this driver.", if *.flag { "flag" } else { "variable name" })]
    NotValid {
        /// The key.
        name: String,
        /// Whether it was given without a value.
        flag: bool,
    },
    /// Neither /etc/nut nor /etc/ups exists and `NUT_CONFPATH` is not set.
    #[error(transparent)]
    ConfPath(#[from] nut_daemon::ConfPathError),
    /// `-a <ups>` names no section of ups.conf.
    #[error("Error: Section {0} not found in ups.conf")]
    SectionNotFound(String),
    /// The section is for another driver.
    #[error("Error: UPS [{ups}] is for driver {driver}, but I'm {me}!")]
    WrongDriver {
        /// The section.
        ups: String,
        /// Its `driver`.
        driver: String,
        /// Our program name.
        me: String,
    },
    /// `pollinterval` is not a positive number.
    #[error("Error: invalid pollinterval: {0}")]
    BadPollInterval(String),
    /// ups.conf could not be read or parsed.
    #[error(transparent)]
    Conf(#[from] nut_conf::Error),
    /// The command line is wrong (the message says how).
    #[error("{0}")]
    Usage(String),
    /// The driver could not open its backend.
    #[error("{0}")]
    Open(#[source] OpenError),
    /// `backend = ...` names no backend we have.
    #[error("unknown backend '{0}' (supported: static:<file>)")]
    UnknownBackend(String),
    /// The backend failed at start-up.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A system call of the start-up failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Dropping root failed.
    #[error(transparent)]
    Privs(#[from] nut_daemon::PrivError),
    /// A PID file could not be written or read, or the signal not sent.
    #[error(transparent)]
    Pid(#[from] nut_daemon::PidError),
    /// No connection to a driver socket.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Reading from or writing to a driver socket failed.
    #[error("driver socket: {0}")]
    Socket(#[source] std::io::Error),
    /// The driver did not answer in time.
    #[error("no answer from the driver within {0:?}")]
    Timeout(Duration),
    /// The driver closed the connection before answering.
    #[error("the driver closed the connection")]
    Closed,
    /// The running driver refused a `-c` command.
    #[error("the driver answered {code} to {request}")]
    Refused {
        /// The request line.
        request: String,
        /// The `TRACKING` result.
        code: i32,
    },
    /// `-c` found no driver to talk to.
    #[error("cannot reach the driver on {}", .0.display())]
    Unreachable(PathBuf),
    /// `-k` could not kill the power.
    #[error("Shutdown failed! ({0})")]
    Shutdown(String),
}

impl Error {
    /// An I/O error of `what`.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}
