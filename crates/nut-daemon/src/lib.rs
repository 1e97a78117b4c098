//! What every nut-rs daemon (upsd, the drivers, upsmon) shares with NUT's daemons: logging
//! to stderr in the foreground and to syslog once in the background, finding the running
//! instance through its PID file, and running as an unprivileged user after the privileged
//! set-up is done.

mod logging;
mod pidfile;
mod privs;
mod syslog;

pub use logging::init_logging;
pub use pidfile::{read_pid, PidError};
pub use privs::{become_user, lookup_user, PrivError, DEFAULT_USER};
pub use syslog::Syslog;
