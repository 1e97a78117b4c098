//! The one logging set-up of the daemons: stderr in the foreground (coloured only on a
//! terminal), syslog under the program's name in the background; and the one mapping of NUT's
//! `-D` / `-q` flags to a level.

use std::io::IsTerminal;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::EnvFilter;

use crate::Syslog;

/// The rest of the set-up, the same whatever the filter: no target, stderr (coloured only on a
/// terminal) or syslog without the time.
macro_rules! install {
    ($builder:expr, $program:expr, $to_syslog:expr) => {{
        let builder = $builder.with_target(false);
        // a second call (there is none today) keeps the first subscriber
        let _ = if $to_syslog {
            builder
                .with_ansi(false)
                .without_time()
                .with_writer(Syslog::open($program))
                .try_init()
        } else {
            builder
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .try_init()
        };
    }};
}

/// The level for `-D` given `debug` times and `-q` given `quiet` times: `-q` (without `-D`)
/// shows warnings and errors only, nothing shows `info`, one `-D` adds `debug`, more `trace`.
pub fn log_level(debug: u8, quiet: u8) -> &'static str {
    match (debug, quiet) {
        (0, q) if q > 0 => "warn",
        (0, _) => "info",
        (1, _) => "debug",
        _ => "trace",
    }
}

/// Install the global subscriber. `level` is `warn`, `info`, `debug` or `trace`; the variable
/// `filter_var` (e.g. `UPSD_LOG`), when set, holds a tracing filter that replaces it.
pub fn init_logging(program: &str, filter_var: Option<&str>, level: &str, to_syslog: bool) {
    match filter_var.and_then(|v| EnvFilter::try_from_env(v).ok()) {
        Some(filter) => install!(
            tracing_subscriber::fmt().with_env_filter(filter),
            program,
            to_syslog
        ),
        None => init_level_logging(program, level, to_syslog),
    }
}

/// [`init_logging`] with `level` alone, no filter variable: what a driver uses. The level
/// filter is a compare; `EnvFilter`, which the driver never needed, links a regex engine
/// (regex-automata's DFA builder) that would only add to its resident code (issue 16).
pub fn init_level_logging(program: &str, level: &str, to_syslog: bool) {
    let level = level.parse().unwrap_or(LevelFilter::INFO);
    install!(
        tracing_subscriber::fmt().with_max_level(level),
        program,
        to_syslog
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_quiet_flags() {
        assert_eq!(log_level(0, 0), "info");
        assert_eq!(log_level(0, 2), "warn");
        assert_eq!(log_level(1, 1), "debug");
        assert_eq!(log_level(2, 0), "trace");
    }
}
