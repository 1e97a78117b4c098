//! The one logging set-up of the daemons: stderr in the foreground (coloured only on a
//! terminal), syslog under the program's name in the background.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::Syslog;

/// Install the global subscriber. `level` is `warn`, `info`, `debug` or `trace`; the variable
/// `filter_var` (e.g. `UPSD_LOG`), when set, holds a tracing filter that replaces it.
pub fn init_logging(program: &str, filter_var: Option<&str>, level: &str, to_syslog: bool) {
    let filter = filter_var
        .and_then(|v| EnvFilter::try_from_env(v).ok())
        .unwrap_or_else(|| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // a second call (there is none today) keeps the first subscriber
    let _ = if to_syslog {
        builder
            .with_ansi(false)
            .without_time()
            .with_writer(Syslog::open(program))
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init()
    };
}
