//! NUT's driver command line (`drivers/main.c`): the options every driver takes, the `-h` text
//! and the `-L` list (both from the driver's option table), and the start-up sequence they
//! select: read the configuration, drop root, open the device, publish, serve; or `-k`, `-c`,
//! `-d`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, Parser};
use nut_daemon::cli::CommandLine;

use crate::config::{split_xarg, DriverOption, OptionKind, Setting, FRAMEWORK_OPTIONS};
use crate::startup::{self, Serving};
use crate::{control, init_tree, DriverInfo, Error, OpenFor, VERSION};

/// A driver's own flags, beside the ones every daemon takes. Help comes from [`usage`], not
/// from clap.
#[derive(Args, Debug)]
struct Own {
    #[arg(short = 'a')]
    ups: Option<String>,
    #[arg(short = 's')]
    standalone: Option<String>,
    #[arg(short = 'k')]
    killpower: bool,
    #[arg(short = 'd')]
    dump: Option<u32>,
    #[arg(short = 'x', action = ArgAction::Append)]
    xargs: Vec<String>,
    #[arg(short = 'L')]
    list: bool,
    #[arg(short = 'q', action = ArgAction::Count)]
    quiet: u8,
    #[arg(short = 'r')]
    chroot: Option<PathBuf>,
    #[arg(short = 'g')]
    group: Option<String>,
    #[arg(short = 'i')]
    interval: Option<u64>,
    /// nut-rs: only the privileged preparation ([`DriverInfo::prepare`]), then exit.
    #[arg(long = "prepare")]
    prepare: bool,
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
    let line = match CommandLine::<Own>::try_parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            usage(&progname, driver.options);
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

fn run(progname: &str, line: CommandLine<Own>, driver: &DriverInfo) -> Result<(), Error> {
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
    nut_daemon::init_logging(progname, None, level, to_syslog);
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
