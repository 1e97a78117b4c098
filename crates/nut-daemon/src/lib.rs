//! What every nut-rs daemon (upsd, the drivers, upsmon) shares with NUT's daemons: the flags
//! of the command line and the answer to `-h`, `-V` and a bad flag ([`cli`]), glibc's
//! `getopt` for the programs that read their flags as stock's do ([`getopt`]), where the
//! files are ([`confpath`], [`statepath`], [`altpidpath`]), logging to stderr in the
//! foreground and to syslog once in the background ([`init_logging`], [`log_level`]), PID
//! files and the signals `-c <command>` sends ([`PidFile`], [`signal_command`]), running as
//! an unprivileged user after the privileged set-up ([`become_user`]), reading PEM
//! certificates and keys ([`pem`]), warning about config files with secrets that others may
//! read ([`perms`]), rate-limited repeated log lines ([`ratelimit`]), and telling systemd how the daemon is doing ([`notify`]).

pub mod cli;
pub mod getopt;
mod logging;
pub mod notify;
pub mod paths;
pub mod pem;
pub mod perms;
mod pidfile;
mod privs;
pub mod ratelimit;
mod syslog;

pub use logging::{init_level_logging, init_logging, log_level};
pub use notify::Notifier;
pub use paths::{
    altpidpath, altpidpath_for, conf_dir, conf_file, confpath, pidfile, statepath, ConfPathError,
};
pub use pidfile::{is_running, read_pid, signal_command, PidError, PidFile};
pub use privs::{become_user, lookup_user, PrivError, DEFAULT_USER};
pub use syslog::Syslog;
