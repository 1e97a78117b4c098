//! The command line NUT's daemons share: the flags every one takes ([`DaemonFlags`], flattened
//! beside a program's own flags in [`CommandLine`]), the one answer upsd and upsmon give to a
//! bad flag, `-h` and `-V` ([`parse`]), and how they report the error that stops them
//! ([`fail`], [`Chain`]).

use std::error::Error;
use std::fmt;
use std::ops::ControlFlow;
use std::process::ExitCode;

use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser};

/// The flags of NUT's daemons (`-c`, `-P`, `-D`, `-F`, `-B`, `-h`, `-u`, `-V`).
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonFlags {
    /// `-c <command>`: signal the running process instead of starting.
    #[arg(short = 'c')]
    pub command: Option<String>,
    /// `-P <pid>`: with `-c`, signal this PID instead of the PID file's.
    #[arg(short = 'P')]
    pub pid: Option<i32>,
    /// `-D`, counted: the debug level (and stay in the foreground).
    #[arg(short = 'D', action = ArgAction::Count)]
    pub debug: u8,
    /// `-F`, counted: stay in the foreground; twice: and still write the PID file.
    #[arg(short = 'F', action = ArgAction::Count)]
    pub foreground: u8,
    /// `-B`: go to the background even when debugging.
    #[arg(short = 'B')]
    pub background: bool,
    /// `-h`: the version line and the usage text.
    #[arg(short = 'h')]
    pub help: bool,
    /// `-u <user>`: the user to run as once the privileged set-up is done.
    #[arg(short = 'u')]
    pub user: Option<String>,
    /// `-V`: the version line.
    #[arg(short = 'V')]
    pub version: bool,
}

impl DaemonFlags {
    /// upsd's and upsmon's rule: `-F`, or `-D` without `-B`, keeps the process in the
    /// foreground.
    pub fn stays_foreground(&self) -> bool {
        self.foreground > 0 || (self.debug > 0 && !self.background)
    }
}

/// A daemon's whole command line: the shared [`DaemonFlags`] and the program's own flags `T`.
/// Help and version are NUT's `-h` and `-V`, never clap's.
#[derive(Parser, Debug, Clone)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct CommandLine<T: Args> {
    /// The flags every daemon takes.
    #[command(flatten)]
    pub daemon: DaemonFlags,
    /// The program's own flags.
    #[command(flatten)]
    pub own: T,
}

/// Parse the command line of `program` as upsd and upsmon do: a bad flag prints
/// `<program>: <what is wrong>` and `usage` on stderr and exits 1; `-h` prints `version_line`
/// and `usage` on stdout, `-V` only `version_line`, and both exit 0. Anything else continues
/// with the parsed line.
pub fn parse<T: Args>(
    program: &'static str,
    version_line: &str,
    usage: &str,
) -> ControlFlow<ExitCode, CommandLine<T>> {
    let parsed = CommandLine::<T>::command()
        .name(program)
        .try_get_matches()
        .and_then(|m| CommandLine::<T>::from_arg_matches(&m));
    let line = match parsed {
        Ok(line) => line,
        Err(e) => {
            eprintln!("{program}: {}", e.kind());
            eprint!("{usage}");
            return ControlFlow::Break(ExitCode::FAILURE);
        }
    };
    if line.daemon.help {
        println!("{version_line}\n{usage}");
        return ControlFlow::Break(ExitCode::SUCCESS);
    }
    if line.daemon.version {
        println!("{version_line}");
        return ControlFlow::Break(ExitCode::SUCCESS);
    }
    ControlFlow::Continue(line)
}

/// Report why `program` stops, to the log and as `<program>: <why>` on stderr; exit 1.
pub fn fail(program: &str, why: impl fmt::Display) -> ExitCode {
    tracing::error!("{why}");
    eprintln!("{program}: {why}");
    ExitCode::FAILURE
}

/// An error and each of its causes, `error: cause: cause of the cause`. A cause the text so far
/// already ends with (an error whose message quotes its source) is not repeated.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let more = e.to_string();
            if !text.ends_with(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            cause = e.source();
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Args, Debug, Clone, PartialEq, Eq)]
    struct Own {
        #[arg(short = 'q', action = ArgAction::Count)]
        quiet: u8,
    }

    fn line(args: &[&str]) -> Result<CommandLine<Own>, clap::Error> {
        CommandLine::<Own>::try_parse_from(std::iter::once("prog").chain(args.iter().copied()))
    }

    #[test]
    fn shared_and_own_flags_in_one_line() {
        let l = line(&["-DD", "-q", "-c", "stop", "-P", "12", "-u", "nut"]).unwrap();
        assert_eq!(
            l.daemon,
            DaemonFlags {
                command: Some("stop".into()),
                pid: Some(12),
                debug: 2,
                user: Some("nut".into()),
                ..DaemonFlags::default()
            }
        );
        assert_eq!(l.own, Own { quiet: 1 });
        let e = line(&["-z"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn foreground_is_f_or_d_without_b() {
        let fg = |args: &[&str]| line(args).unwrap().daemon.stays_foreground();
        assert!(!fg(&[]));
        assert!(fg(&["-F"]));
        assert!(fg(&["-D"]));
        assert!(!fg(&["-D", "-B"]));
        assert!(fg(&["-F", "-B"]));
        assert!(!fg(&["-B"]));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("quoting: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn chain_names_every_cause_once() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(Chain(&e).to_string(), "outer: inner");
        let e = Quoting(std::io::Error::other("inner"));
        assert_eq!(Chain(&e).to_string(), "quoting: inner");
    }
}
