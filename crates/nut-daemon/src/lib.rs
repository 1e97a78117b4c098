//! What every nut-rs daemon (upsd, the drivers, later upsmon) shares with NUT's daemons:
//! logging to syslog once in the background, finding the running instance through its PID
//! file, and running as an unprivileged user after the
//! privileged set-up is done.

mod pidfile;
mod privs;
mod syslog;

pub use pidfile::{read_pid, PidError};
pub use privs::{become_user, lookup_user, PrivError, DEFAULT_USER};
pub use syslog::Syslog;
