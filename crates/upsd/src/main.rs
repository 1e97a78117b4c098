//! The `upsd` binary: NUT's command line, then the library's start-up ([`upsd::run`]).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Args};
use nut_daemon::cli::{self, Chain};

/// upsd's own flags, beside the ones every daemon takes.
#[derive(Args, Debug)]
struct Own {
    #[arg(short = 'r')]
    chroot: Option<PathBuf>,
    #[arg(short = 'q', action = ArgAction::Count)]
    quiet: u8,
    #[arg(short = '4')]
    ipv4: bool,
    #[arg(short = '6')]
    ipv6: bool,
    /// Removed in NUT: listen addresses come from LISTEN in upsd.conf.
    #[arg(short = 'i', hide = true)]
    old_i: Option<String>,
    #[arg(short = 'p', hide = true)]
    old_p: Option<String>,
}

const USAGE: &str = "\
Network server for UPS data (nut-rs).

usage: upsd [OPTIONS]

  -c <command>	send <command> via signal to background process
		commands:
		 - reload: reread configuration files
		 - stop: stop process and exit
  -P <pid>	send the signal above to specified PID (bypassing PID file)
  -D		raise debugging level (and stay foreground by default)
  -F		stay foregrounded even if no debugging is enabled
  -FF		stay foregrounded and still save the PID file
  -B		stay backgrounded even if debugging is bumped
  -h		display this help
  -r <dir>	chroots to <dir>
  -q		raise log level threshold
  -u <user>	switch to <user> (if started as root)
  -V		display the version of this software
  -4		IPv4 only
  -6		IPv6 only
";

fn main() -> ExitCode {
    let line = match cli::parse::<Own>("upsd", &upsd::version_line(), USAGE) {
        ControlFlow::Continue(line) => line,
        ControlFlow::Break(code) => return code,
    };
    let own = line.own;
    if own.old_i.is_some() || own.old_p.is_some() {
        eprintln!("upsd: -i and -p are not supported any more; use LISTEN in upsd.conf");
        return ExitCode::FAILURE;
    }
    let options = upsd::Options {
        daemon: line.daemon,
        chroot: own.chroot,
        quiet: own.quiet,
        ipv4: own.ipv4,
        ipv6: own.ipv6,
    };
    match upsd::run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::fail("upsd", Chain(&e)),
    }
}
