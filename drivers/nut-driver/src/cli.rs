//! NUT's driver command line (`drivers/main.c`): the options every driver takes, the `-h` text
//! and the `-L` list (both from the driver's option table), and the start-up sequence they
//! select: read the configuration, drop root, open the device, publish, serve; or `-k`, `-c`,
//! `-d`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use nut_daemon::cli::DaemonFlags;
use nut_daemon::getopt::{Getopt, Opt};

use crate::config::{split_xarg, DriverOption, OptionKind, Setting, FRAMEWORK_OPTIONS};
use crate::startup::{self, Serving};
use crate::{control, init_tree, DriverInfo, Error, OpenFor, VERSION};

/// Stock 2.8.0's option string (`+a:s:kFBDd:hx:Lqr:u:g:Vi:`), with `-c` and `-P`, which every
/// nut-rs daemon takes. Read with glibc's `getopt` rules, as stock does: a generic parser
/// (clap) was most of the driver's start-up code, and all of it stayed resident (issue 16).
const SPEC: &str = "a:s:kFBDd:hx:Lqr:u:g:Vi:c:P:";

/// The long options: nut-rs's `--prepare` only.
const LONG: &[&str] = &["--prepare"];

/// The whole command line: the flags every daemon takes and the driver's own.
#[derive(Debug, Default)]
struct Line {
    daemon: DaemonFlags,
    own: Own,
}

/// A driver's own flags, beside the ones every daemon takes.
#[derive(Debug, Default)]
struct Own {
    ups: Option<String>,
    standalone: Option<String>,
    killpower: bool,
    dump: Option<u32>,
    xargs: Vec<String>,
    list: bool,
    quiet: u8,
    chroot: Option<PathBuf>,
    group: Option<String>,
    interval: Option<u64>,
    /// nut-rs: only the privileged preparation ([`DriverInfo::prepare`]), then exit.
    prepare: bool,
}

/// Read `argv` (with `argv[0]`). A bad option (getopt has said which on stderr), an argument
/// that is not text or not a number where one is needed, or a word after the options is the
/// error's text.
fn parse_line(argv: &[OsString]) -> Result<Line, String> {
    let mut line = Line::default();
    let mut opts = Getopt::with_long(argv, SPEC, LONG);
    for opt in opts.by_ref() {
        let (c, arg) = match opt {
            Opt::Flag(c, arg) => (c, arg),
            Opt::Long(_) => {
                line.own.prepare = true;
                continue;
            }
            Opt::Bad => return Err("Error: unknown option -?. Try -h for help.".into()),
        };
        let arg_text = || text(c, arg.clone());
        let (d, o) = (&mut line.daemon, &mut line.own);
        match c {
            b'a' => o.ups = Some(arg_text()?),
            b's' => o.standalone = Some(arg_text()?),
            b'k' => o.killpower = true,
            b'd' => o.dump = Some(number(c, &arg_text()?)?),
            b'x' => o.xargs.push(arg_text()?),
            b'L' => o.list = true,
            b'q' => o.quiet = o.quiet.saturating_add(1),
            b'r' => o.chroot = arg.map(PathBuf::from),
            b'g' => o.group = Some(arg_text()?),
            b'i' => o.interval = Some(number(c, &arg_text()?)?),
            b'c' => d.command = Some(arg_text()?),
            b'P' => d.pid = Some(number(c, &arg_text()?)?),
            b'D' => d.debug = d.debug.saturating_add(1),
            b'F' => d.foreground = d.foreground.saturating_add(1),
            b'B' => d.background = true,
            b'h' => d.help = true,
            b'u' => d.user = Some(arg_text()?),
            // (only 'V' is left in SPEC)
            _ => d.version = true,
        }
    }
    match opts.operands().first() {
        Some(word) => Err(format!(
            "Error: unexpected argument '{}'. Try -h for help.",
            word.to_string_lossy()
        )),
        None => Ok(line),
    }
}

/// The argument of `-c` as text.
fn text(c: u8, arg: Option<OsString>) -> Result<String, String> {
    arg.unwrap_or_default().into_string().map_err(|a| {
        format!(
            "Error: -{} {}: not valid UTF-8",
            char::from(c),
            a.to_string_lossy()
        )
    })
}

/// The argument of `-c` as a number.
fn number<T: FromStr>(c: u8, arg: &str) -> Result<T, String> {
    arg.parse()
        .map_err(|_| format!("Error: -{} needs a number, not '{arg}'", char::from(c)))
}

/// The whole driver program: the banner, the command line, then what it asks for. A driver's
/// `main` is `nut_driver::main(&DRIVER)`.
pub fn main(driver: &DriverInfo) -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let progname = argv
        .first()
        .and_then(|a| {
            Path::new(a)
                .file_name()
                .map(|s| s.to_string_lossy().trim_end_matches(".exe").to_string())
        })
        .unwrap_or_else(|| driver.program.to_string());
    println!(
        "Network UPS Tools - {} {} ({VERSION})",
        driver.description, driver.version
    );
    let line = match parse_line(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&progname, line, driver) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(progname: &str, line: Line, driver: &DriverInfo) -> Result<(), Error> {
    let (flags, own) = (line.daemon, line.own);
    if flags.version {
        return Ok(());
    }
    if flags.help {
        usage(progname, driver.options);
        return Ok(());
    }
    if own.list {
        for o in all_options(driver.options) {
            let kind = match o.kind {
                OptionKind::Flag => "FLAG",
                OptionKind::Value => "VALUE",
            };
            println!("{kind} {} \"{}\"", o.key, o.help);
        }
        return Ok(());
    }
    // (not `DaemonFlags::stays_foreground`: here -B wins over -F)
    let foreground = (flags.debug > 0 || flags.foreground > 0) && !flags.background;
    // Like stock: messages go to stderr while in the foreground (and for -k, -c, -d), to
    // syslog once in the background.
    let to_syslog = !foreground
        && !own.killpower
        && !own.prepare
        && flags.command.is_none()
        && own.dump.is_none();
    let level = nut_daemon::log_level(flags.debug, own.quiet);
    nut_daemon::init_level_logging(progname, level, to_syslog);
    if own.chroot.is_some() {
        return Err(Error::Usage(
            "-r (chroot) is not supported by this driver".into(),
        ));
    }
    let Some(upsname) = own.ups.clone().or(own.standalone.clone()) else {
        usage(progname, driver.options);
        return Err(Error::Usage(
            "Error: specifying '-a <id>' or '-s <id>' is now mandatory".into(),
        ));
    };
    let instance = format!("{progname}-{upsname}");
    let sock = nut_daemon::statepath().join(&instance);
    let pidfile = nut_daemon::pidfile(&instance);
    if let Some(cmd) = &flags.command {
        return control::send_command(&sock, &pidfile, cmd, flags.pid);
    }

    let standalone = own.ups.is_none();
    let xargs: Vec<Setting> = own.xargs.iter().map(|a| split_xarg(a)).collect();
    let mut cfg = startup::load_config(progname, &upsname, standalone, &xargs, driver.options)?;
    if let Some(i) = own.interval {
        if i == 0 {
            return Err(Error::Usage(format!(
                "Error: command-line: invalid pollinterval: {i}"
            )));
        }
        cfg.poll_interval = i;
    }
    let debug = i32::from(flags.debug).max(cfg.debug_min.unwrap_or(0) as i32);
    if let Some(prepare) = driver.prepare {
        let then = if own.prepare {
            crate::Prepare::Alone
        } else {
            crate::Prepare::Driver
        };
        prepare(&cfg, then);
    }
    // (nut-rs) `--prepare`: what root must do for the device, for a service manager that
    // runs the driver itself without root (`upsdrvctl prepare`)
    if own.prepare {
        return Ok(());
    }
    if own.killpower {
        return control::killpower(&sock, &cfg, driver);
    }

    // Drop root before touching the device or creating the socket, as NUT 2.8.0 does.
    if nix::unistd::Uid::effective().is_root() {
        let user = flags
            .user
            .as_deref()
            .or(cfg.user.as_deref())
            .unwrap_or(nut_daemon::DEFAULT_USER);
        let group = own.group.as_deref().or(cfg.group.as_deref());
        nut_daemon::become_user(&nut_daemon::lookup_user(user)?, group)?;
    }

    let mut backend = startup::open_backend(driver, &cfg, OpenFor::Serve)?;
    let started = init_tree(backend.as_mut(), &cfg, driver)?;
    if let Err(e) = &started.first_update {
        tracing::warn!("first update failed: {e}");
    }
    let poll = Duration::from_secs(cfg.poll_interval);
    if let Some(n) = own.dump {
        startup::dump(backend.as_mut(), started.tree, n, poll);
        return Ok(());
    }
    let serving = Serving {
        progname,
        upsname: &upsname,
        standalone,
        xargs: &xargs,
        options: driver.options,
        sock: &sock,
        // -FF: a PID file in the foreground too.
        pidfile: (!foreground || flags.foreground >= 2).then_some(pidfile.as_path()),
        background: !foreground,
        poll,
        debug,
    };
    startup::serve(backend.as_mut(), started, &serving)
}

/// The driver's options, then the framework's.
fn all_options(options: &[DriverOption]) -> impl Iterator<Item = &DriverOption> {
    options.iter().chain(FRAMEWORK_OPTIONS)
}

/// `-h`: the command line, then a line of help per option.
fn usage(progname: &str, options: &[DriverOption]) {
    println!(
        "\nusage: {progname} (-a <id>|-s <id>) [OPTIONS]
  -a <id>        - autoconfig using ups.conf section <id>
                 - note: -x after -a overrides ups.conf settings
  -s <id>        - configure directly from cmd line arguments (give every setting with -x)
  -V             - print version, then exit
  -L             - print parseable list of driver variables
  -D             - raise debugging level (and stay foreground by default)
  -d <count>     - dump data to stdout after 'count' updates loop and exit
  -F             - stay foregrounded even if no debugging is enabled (-FF: and write a PID file)
  -B             - stay backgrounded even if debugging is bumped
  -q             - raise log level threshold
  -h             - display this help
  -k             - force shutdown
  -c <command>   - send command to running driver: exit, reload, reload-or-exit, reload-or-error
  -i <int>       - poll interval
  -r <dir>       - chroot to <dir>
  -u <user>      - switch to <user> (if started as root)
  -g <group>     - set socket access to <group> (if started as root)
  -x <var>=<val> - set driver variable <var> to <val>
  --prepare      - (nut-rs) only do as root what the device needs before the driver
                   starts (usbhid-ups: bind usbhid to a unit left without it), then exit

Acceptable values for -x or ups.conf in this driver:
"
    );
    for o in all_options(options) {
        match o.kind {
            OptionKind::Flag => println!("{:>60} : -x {}", o.help, o.key),
            OptionKind::Value => println!("{:>60} : -x {}=<value>", o.help, o.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    fn parse(words: &[&str]) -> Result<Line, String> {
        let argv: Vec<OsString> = std::iter::once("usbhid-ups")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect();
        parse_line(&argv)
    }

    #[test]
    fn every_flag_lands_in_its_field() {
        let l = parse(&[
            "-a",
            "ups",
            "-DD",
            "-FF",
            "-B",
            "-q",
            "-k",
            "-L",
            "-h",
            "-V",
            "-d3",
            "-x",
            "vendorid=051d",
            "-xpollonly",
            "-r",
            "/r",
            "-g",
            "nut",
            "-u",
            "nobody",
            "-i",
            "5",
            "-c",
            "reload",
            "-P",
            "42",
            "--prepare",
            "-s",
            "alone",
        ])
        .unwrap();
        let (d, o) = (&l.daemon, &l.own);
        assert_eq!(
            *d,
            DaemonFlags {
                command: Some("reload".into()),
                pid: Some(42),
                debug: 2,
                foreground: 2,
                background: true,
                help: true,
                user: Some("nobody".into()),
                version: true,
            }
        );
        assert_eq!(o.ups.as_deref(), Some("ups"));
        assert_eq!(o.standalone.as_deref(), Some("alone"));
        assert!(o.killpower && o.list && o.prepare);
        assert_eq!((o.quiet, o.dump, o.interval), (1, Some(3), Some(5)));
        assert_eq!(o.xargs, ["vendorid=051d", "pollonly"]);
        assert_eq!(o.chroot.as_deref(), Some(Path::new("/r")));
        assert_eq!(o.group.as_deref(), Some("nut"));
    }

    #[test]
    fn bad_options_numbers_and_stray_words_are_refused() {
        let err = |words: &[&str]| parse(words).unwrap_err();
        let unknown = "Error: unknown option -?. Try -h for help.";
        assert_eq!(err(&["-Z"]), unknown);
        assert_eq!(err(&["-a"]), unknown);
        assert_eq!(err(&["--prepared"]), unknown);
        assert_eq!(err(&["-i", "two"]), "Error: -i needs a number, not 'two'");
        assert_eq!(err(&["-d", "-1"]), "Error: -d needs a number, not '-1'");
        assert_eq!(err(&["-P", "x"]), "Error: -P needs a number, not 'x'");
        assert_eq!(
            err(&["-a", "ups", "extra", "-k"]),
            "Error: unexpected argument 'extra'. Try -h for help."
        );
        let not_utf8 = OsString::from_vec(vec![b'u', 0xff]);
        let argv = [OsString::from("usbhid-ups"), "-a".into(), not_utf8];
        assert_eq!(
            parse_line(&argv).unwrap_err(),
            "Error: -a u\u{fffd}: not valid UTF-8"
        );
    }
}
