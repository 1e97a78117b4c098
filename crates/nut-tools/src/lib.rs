//! NUT's command-line tools, reimplemented with the same names, options and output.
//!
//! [`drvctl`] is `upsdrvctl`: its command line, the decisions (which drivers, which command
//! lines, in which order, with which waits) as plain functions of the parsed ups.conf, tested
//! without starting anything, and the execution of that plan. The binary is one call to
//! [`drvctl::main`]. [`setup`] is `nut-setup`, which writes a working configuration (the
//! NAS-compatible `netserver` preset) from what `nut-scanner -U` finds.
//!
//! For systemd: [`mode`] is `nut-mode` (nut.conf's MODE as the units' `ExecCondition=`) and
//! [`generator`] is `nut-driver-generator` (a `nut-driver@<ups>.service` per ups.conf
//! section).

pub mod drvctl;
pub mod generator;
pub mod mode;
pub mod setup;

/// Why a tool stops. The messages are stock NUT's where it has one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ups.conf has no UPS section.
    #[error("Error: no UPS definitions found in ups.conf")]
    NoUps,
    /// The UPS named on the command line has no section.
    #[error("UPS {0} not found in ups.conf")]
    NotFound(String),
    /// A section without `driver`.
    #[error("Error: UPS {0} has no driver")]
    NoDriver(String),
    /// The command line is wrong (the message says how).
    #[error("{0}")]
    Usage(String),
    /// Neither /etc/nut nor /etc/ups exists and `NUT_CONFPATH` is not set.
    #[error(transparent)]
    ConfPath(#[from] nut_daemon::ConfPathError),
    /// ups.conf could not be read or parsed.
    #[error(transparent)]
    Conf(#[from] nut_conf::Error),
    /// A driver binary is not there.
    #[error("Can't start {0}: no such file")]
    NoProgram(String),
    /// A driver could not be started, waited for or run.
    #[error("Can't {what} {program}: {source}")]
    Run {
        /// `start` or `run`.
        what: &'static str,
        /// The driver binary.
        program: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// nut-setup: a file to write exists and configures something.
    #[error("{} exists and is not a sample: not replacing it (use --force)", .0.display())]
    Exists(std::path::PathBuf),
    /// nut-setup: reading, writing or giving away a file failed.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// nut-setup as root, but there is no `nut` group to give the files to.
    #[error("group nut not found: the files would be unreadable for upsd and upsmon (install the package, or create the group)")]
    NoGroup,
}
