//! NUT's driver command line (`drivers/main.c`): the options every driver takes, the `-h` text
//! and the `-L` list (both from the driver's option table), and the start-up sequence they
//! select: read the configuration, drop root, open the device, publish, serve; or `-k`, `-c`,
//! `-d`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser};

use crate::config::{split_xarg, DriverOption, OptionKind, Setting, FRAMEWORK_OPTIONS};
use crate::startup::{self, Serving};
use crate::{control, init_tree, DriverInfo, Error, OpenFor, VERSION};

/// The command line of a NUT driver. Help comes from [`usage`], not from clap.
#[derive(Parser, Debug)]
#[command(disable_help_flag = true, disable_version_flag = true)]
struct Args {
    #[arg(short = 'a')]
    ups: Option<String>,
    #[arg(short = 's')]
    standalone: Option<String>,
    #[arg(short = 'k')]
    killpower: bool,
    #[arg(short = 'F', action = ArgAction::Count)]
    foreground: u8,
    #[arg(short = 'B')]
    background: bool,
    #[arg(short = 'D', action = ArgAction::Count)]
    debug: u8,
    #[arg(short = 'd')]
    dump: Option<u32>,
    #[arg(short = 'h')]
    help: bool,
    #[arg(short = 'x', action = ArgAction::Append)]
    xargs: Vec<String>,
    #[arg(short = 'L')]
    list: bool,
    #[arg(short = 'q', action = ArgAction::Count)]
    quiet: u8,
    #[arg(short = 'r')]
    chroot: Option<PathBuf>,
    #[arg(short = 'u')]
    user: Option<String>,
    #[arg(short = 'g')]
    group: Option<String>,
    #[arg(short = 'V')]
    version: bool,
    #[arg(short = 'i')]
    interval: Option<u64>,
    #[arg(short = 'c')]
    command: Option<String>,
    #[arg(short = 'P')]
    pid: Option<i32>,
}

/// The whole driver program: the banner, the command line, then what it asks for. A driver's
/// `main` is `nut_driver::main(&DRIVER)`.
pub fn main(driver: &DriverInfo) -> ExitCode {
    let progname = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|s| s.to_string_lossy().trim_end_matches(".exe").to_string())
        })
        .unwrap_or_else(|| driver.program.to_string());
    println!(
        "Network UPS Tools - {} {} ({VERSION})",
        driver.description, driver.version
    );
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            usage(&progname, driver.options);
            return ExitCode::FAILURE;
        }
    };
    match run(&progname, args, driver) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(progname: &str, args: Args, driver: &DriverInfo) -> Result<(), Error> {
    if args.version {
        return Ok(());
    }
    if args.help {
        usage(progname, driver.options);
        return Ok(());
    }
    if args.list {
        for o in all_options(driver.options) {
            let kind = match o.kind {
                OptionKind::Flag => "FLAG",
                OptionKind::Value => "VALUE",
            };
            println!("{kind} {} \"{}\"", o.key, o.help);
        }
        return Ok(());
    }
    let foreground = (args.debug > 0 || args.foreground > 0) && !args.background;
    // Like stock: messages go to stderr while in the foreground (and for -k, -c, -d), to
    // syslog once in the background.
    let to_syslog = !foreground && !args.killpower && args.command.is_none() && args.dump.is_none();
    let level = nut_daemon::log_level(args.debug, args.quiet);
    nut_daemon::init_logging(progname, None, level, to_syslog);
    if args.chroot.is_some() {
        return Err(Error::Usage(
            "-r (chroot) is not supported by this driver".into(),
        ));
    }
    let Some(upsname) = args.ups.clone().or(args.standalone.clone()) else {
        usage(progname, driver.options);
        return Err(Error::Usage(
            "Error: specifying '-a <id>' or '-s <id>' is now mandatory".into(),
        ));
    };
    let instance = format!("{progname}-{upsname}");
    let sock = nut_daemon::statepath().join(&instance);
    let pidfile = nut_daemon::pidfile(&instance);
    if let Some(cmd) = &args.command {
        return control::send_command(&sock, &pidfile, cmd, args.pid);
    }

    let standalone = args.ups.is_none();
    let xargs: Vec<Setting> = args.xargs.iter().map(|a| split_xarg(a)).collect();
    let mut cfg = startup::load_config(progname, &upsname, standalone, &xargs, driver.options)?;
    if let Some(i) = args.interval {
        if i == 0 {
            return Err(Error::Usage(format!(
                "Error: command-line: invalid pollinterval: {i}"
            )));
        }
        cfg.poll_interval = i;
    }
    let debug = i32::from(args.debug).max(cfg.debug_min.unwrap_or(0) as i32);
    if args.killpower {
        return control::killpower(&sock, &cfg, driver);
    }

    // Drop root before touching the device or creating the socket, as NUT 2.8.0 does.
    if nix::unistd::Uid::effective().is_root() {
        let user = args
            .user
            .as_deref()
            .or(cfg.user.as_deref())
            .unwrap_or(nut_daemon::DEFAULT_USER);
        let group = args.group.as_deref().or(cfg.group.as_deref());
        nut_daemon::become_user(&nut_daemon::lookup_user(user)?, group)?;
    }

    let mut backend = startup::open_backend(driver, &cfg, OpenFor::Serve)?;
    let started = init_tree(backend.as_mut(), &cfg, driver)?;
    if let Err(e) = &started.first_update {
        tracing::warn!("first update failed: {e}");
    }
    let poll = Duration::from_secs(cfg.poll_interval);
    if let Some(n) = args.dump {
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
        pidfile: (!foreground || args.foreground >= 2).then_some(pidfile.as_path()),
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
