//! The `upsmon` binary: NUT's command line, handed to [`upsmon::start::run`].

use std::ops::ControlFlow;
use std::process::ExitCode;

use clap::Args;
use nut_daemon::cli;

/// upsmon's own flags, beside the ones every daemon takes.
#[derive(Args, Debug)]
struct Own {
    /// Exit 0 if the POWERDOWNFLAG is set.
    #[arg(short = 'K')]
    killpower: bool,
    /// One privileged process instead of the root parent + unprivileged child.
    #[arg(short = 'p')]
    privileged: bool,
    #[arg(short = '4')]
    ipv4: bool,
    #[arg(short = '6')]
    ipv6: bool,
    /// Connect timeout in seconds.
    #[arg(short = 'W')]
    connect_timeout: Option<u64>,
}

const USAGE: &str = "\
UPS status monitor and shutdown controller (nut-rs).

usage: upsmon [OPTIONS]

  -c <cmd>	send command to running process
		commands:
		 - fsd: shutdown all primary UPSes (use with caution)
		 - reload: reread configuration
		 - stop: stop monitoring and exit
  -P <pid>	send the signal above to specified PID (bypassing PID file)
  -D		raise debugging level (and stay foreground by default)
  -F		stay foregrounded even if no debugging is enabled
  -B		stay backgrounded even if debugging is bumped
  -h		display this help
  -K		checks POWERDOWNFLAG (if set), sets exit code to 0 if set
  -p		always run privileged (disable privileged parent)
  -u <user>	run child as user <user> (ignored when using -p)
  -W <secs>	connection timeout (default 5, or NUT_DEFAULT_CONNECT_TIMEOUT)
  -V		display the version of this software
  -4		IPv4 only
  -6		IPv6 only
";

fn main() -> ExitCode {
    let version_line = format!(
        "Network UPS Tools upsmon {} (nut-rs)",
        env!("CARGO_PKG_VERSION")
    );
    let line = match cli::parse::<Own>("upsmon", &version_line, USAGE) {
        ControlFlow::Continue(line) => line,
        ControlFlow::Break(code) => return code,
    };
    let options = upsmon::start::Options {
        daemon: line.daemon,
        killpower: line.own.killpower,
        privileged: line.own.privileged,
        connect_timeout: line.own.connect_timeout,
    };
    upsmon::start::run(options).unwrap_or_else(|e| cli::fail("upsmon", e))
}
