//! The `upsmon` binary: NUT's command line, handed to [`upsmon::start::run`].

use std::process::ExitCode;

use clap::{ArgAction, Parser};

/// Command line as stock upsmon reads it.
#[derive(Parser, Debug)]
#[command(name = "upsmon", disable_help_flag = true, disable_version_flag = true)]
struct Args {
    /// Send a command to the running upsmon: fsd, reload or stop.
    #[arg(short = 'c')]
    command: Option<String>,
    /// With -c: signal this PID instead of the one in the PID file.
    #[arg(short = 'P')]
    pid: Option<i32>,
    /// Raise the debug level (and stay in the foreground).
    #[arg(short = 'D', action = ArgAction::Count)]
    debug: u8,
    /// Stay in the foreground.
    #[arg(short = 'F', action = ArgAction::Count)]
    foreground: u8,
    /// Go to the background even when debugging.
    #[arg(short = 'B')]
    background: bool,
    #[arg(short = 'h')]
    help: bool,
    /// Exit 0 if the POWERDOWNFLAG is set.
    #[arg(short = 'K')]
    killpower: bool,
    /// One privileged process instead of the root parent + unprivileged child.
    #[arg(short = 'p')]
    privileged: bool,
    #[arg(short = 'u')]
    user: Option<String>,
    #[arg(short = 'V')]
    version: bool,
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

fn version_line() -> String {
    format!(
        "Network UPS Tools upsmon {} (nut-rs)",
        env!("CARGO_PKG_VERSION")
    )
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("upsmon: {}", e.kind());
            eprint!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    if args.help {
        println!("{}\n{USAGE}", version_line());
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("{}", version_line());
        return ExitCode::SUCCESS;
    }
    let options = upsmon::start::Options {
        foreground: args.foreground > 0 || (args.debug > 0 && !args.background),
        command: args.command,
        pid: args.pid,
        debug: args.debug,
        killpower: args.killpower,
        privileged: args.privileged,
        user: args.user,
        connect_timeout: args.connect_timeout,
    };
    match upsmon::start::run(options) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("upsmon: {e}");
            ExitCode::FAILURE
        }
    }
}
