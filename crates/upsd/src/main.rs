//! The `upsd` binary: NUT's command line, then the library's start-up ([`upsd::run`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};

/// Command line as stock upsd reads it.
#[derive(Parser, Debug)]
#[command(name = "upsd", disable_help_flag = true, disable_version_flag = true)]
struct Args {
    #[arg(short = 'c')]
    command: Option<String>,
    #[arg(short = 'P')]
    pid: Option<i32>,
    #[arg(short = 'D', action = ArgAction::Count)]
    debug: u8,
    #[arg(short = 'F', action = ArgAction::Count)]
    foreground: u8,
    #[arg(short = 'B')]
    background: bool,
    #[arg(short = 'h')]
    help: bool,
    #[arg(short = 'r')]
    chroot: Option<PathBuf>,
    #[arg(short = 'q', action = ArgAction::Count)]
    quiet: u8,
    #[arg(short = 'u')]
    user: Option<String>,
    #[arg(short = 'V')]
    version: bool,
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
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("upsd: {}", e.kind());
            eprint!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    if args.help {
        println!("{}\n{USAGE}", upsd::version_line());
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("{}", upsd::version_line());
        return ExitCode::SUCCESS;
    }
    if args.old_i.is_some() || args.old_p.is_some() {
        eprintln!("upsd: -i and -p are not supported any more; use LISTEN in upsd.conf");
        return ExitCode::FAILURE;
    }
    let options = upsd::Options {
        command: args.command,
        pid: args.pid,
        debug: args.debug,
        foreground: args.foreground,
        background: args.background,
        chroot: args.chroot,
        quiet: args.quiet,
        user: args.user,
        ipv4: args.ipv4,
        ipv6: args.ipv6,
    };
    match upsd::run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("upsd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
