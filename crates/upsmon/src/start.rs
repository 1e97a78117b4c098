//! Start-up, as stock upsmon does it: `-c` signals the running upsmon; else read upsmon.conf,
//! answer `-K`, check the configuration, refuse a second instance, clear an old
//! POWERDOWNFLAG, go to the background, split into the root parent and the monitoring child
//! (`privsep`; `-p` keeps one process), and run the `daemon` on a tokio runtime.
//!
//! PID file: `upsmon.pid` in NUT's PID directory ([`nut_daemon::altpidpath`]:
//! `NUT_ALTPIDPATH`, else `NUT_STATEPATH`, else `/run/nut`, the rule of NUT 2.8.1+), written
//! by the monitoring child.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use nix::sys::signal::Signal;
use nut_conf::upsmon_conf::UpsmonConf;
use nut_daemon::cli::DaemonFlags;
use nut_daemon::PidFile;

use crate::daemon::{self, Daemon, Settings};
use crate::host::System;
use crate::machine::check_supplies;
use crate::privsep::{self, ParentPlan, Side};
use crate::sessions::Pool;
use crate::{powerdown, session, Error};

/// What the command line asks for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What every daemon takes: `-c fsd|reload|stop` (and `-P`) signal the running upsmon
    /// instead of starting, `-D`/`-F`/`-B` pick the debug level and the foreground, `-u` the
    /// monitoring child's user (after `RUN_AS_USER`).
    pub daemon: DaemonFlags,
    /// `-K`: only tell whether POWERDOWNFLAG is set.
    pub killpower: bool,
    /// `-p`: one privileged process instead of the root parent and the monitoring child.
    pub privileged: bool,
    /// `-W`: the connect timeout in seconds.
    pub connect_timeout: Option<u64>,
}

/// What `-c` sends.
const COMMANDS: &[(&str, Signal)] = &[
    ("fsd", Signal::SIGUSR1),
    ("reload", Signal::SIGHUP),
    ("stop", Signal::SIGTERM),
];

/// Read upsmon.conf.
pub(crate) fn load_conf(path: &Path) -> Result<UpsmonConf, Error> {
    let text = std::fs::read(path).map_err(|source| Error::ReadConf {
        file: path.to_path_buf(),
        source,
    })?;
    nut_daemon::perms::warn_secret_files(&[path]);
    Ok(nut_conf::upsmon_conf::parse(&text, path)?)
}

fn init_logging(debug: u8, to_syslog: bool) {
    let level = nut_daemon::log_level(debug, 0);
    nut_daemon::init_logging("upsmon", Some("UPSMON_LOG"), level, to_syslog);
}

/// Run upsmon as the command line asks; the exit code, or why it could not start.
pub fn run(opts: Options) -> Result<ExitCode, Error> {
    let pid_path = nut_daemon::pidfile("upsmon");

    let flags = &opts.daemon;
    let foreground = flags.stays_foreground();
    if let Some(cmd) = &flags.command {
        init_logging(flags.debug, false);
        nut_daemon::signal_command(cmd, COMMANDS, &pid_path, flags.pid)?;
        return Ok(ExitCode::SUCCESS);
    }

    init_logging(flags.debug, !foreground && !opts.killpower);
    let confpath = nut_daemon::conf_file("upsmon.conf")?;
    let conf = load_conf(&confpath)?;
    for w in &conf.warnings {
        tracing::warn!("{w}");
    }
    if opts.killpower {
        return Ok(killpower(&conf, &confpath));
    }

    check_supplies(&conf).map_err(|e| Error::Fatal(Box::new(e)))?;
    if conf.monitors.is_empty() {
        tracing::warn!(
            "No MONITOR lines in {}: nothing to watch",
            confpath.display()
        );
    }
    if conf.shutdowncmd.is_none() {
        tracing::warn!("Warning: no shutdown command defined!");
    }
    if let Ok(pid) = nut_daemon::read_pid(&pid_path) {
        if pid != std::process::id() as i32 && nut_daemon::is_running(pid) {
            return Err(Error::AlreadyRunning { pid });
        }
    }
    let powerdownflag = conf
        .powerdownflag
        .clone()
        .filter(|f| powerdown::clear_at_start(f));

    // (as NUT: RUN_AS_USER in upsmon.conf wins over -u, because the file is read after the
    // command line)
    let child_user = match opts.privileged {
        true => None,
        false => {
            let name = conf
                .run_as_user
                .clone()
                .or(flags.user.clone())
                .unwrap_or_else(|| nut_daemon::DEFAULT_USER.to_string());
            let user = nut_daemon::lookup_user(&name).map_err(|source| Error::User {
                step: "Fatal error",
                source,
            })?;
            Some(user)
        }
    };

    if !foreground {
        nix::unistd::daemon(true, false)
            .map_err(|e| Error::system("going to the background", e))?;
    }
    // (before the split: systemd's WATCHDOG_PID names the process it started; the monitoring
    // child pings for it, which the unit allows with NotifyAccess=all)
    let mut notifier = nut_daemon::Notifier::from_env();

    // the PID file is opened before the privileges go, and written once the signal handlers
    // are in place
    let (parent, mut pid_file) = match child_user {
        None => {
            tracing::info!("Warning: running as one big root process by request (upsmon -p)");
            (None, create_pid_file(&pid_path))
        }
        Some(user) => {
            let plan = ParentPlan {
                powerdownflag: powerdownflag.clone(),
                shutdowncmd: conf.shutdowncmd.clone(),
                shutdownexit: conf.shutdownexit,
            };
            match privsep::split(plan)? {
                Side::Parent(code) => {
                    remove_stale_pid_file(&pid_path);
                    return Ok(code);
                }
                Side::Child(link) => {
                    let pid_file = create_pid_file(&pid_path);
                    nut_daemon::become_user(&user, None).map_err(|source| Error::User {
                        step: "dropping privileges",
                        source,
                    })?;
                    tracing::debug!("monitoring as user {}", user.name);
                    (Some(link), pid_file)
                }
            }
        }
    };

    let connect_timeout = opts
        .connect_timeout
        .or_else(|| {
            std::env::var("NUT_DEFAULT_CONNECT_TIMEOUT")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .map(Duration::from_secs)
        .unwrap_or(session::IO_TIMEOUT);
    let settings = Settings {
        confpath,
        powerdownflag,
        hostname: hostname(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::system("starting the runtime", e))?;
    let code = runtime.block_on(async {
        let (pool, reports) = Pool::new(connect_timeout, Duration::from_secs(conf.pollfreq.max(1)));
        let daemon = Daemon::start(conf, settings, pool, System { parent });
        daemon::run(daemon, reports, pid_file.as_mut(), &mut notifier).await
    });
    // (an unprivileged child may lack the right; the parent removes it then)
    if let Some(f) = pid_file {
        f.remove();
    }
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(code)
}

/// `-K`: exit 0 if POWERDOWNFLAG is set.
fn killpower(conf: &UpsmonConf, confpath: &Path) -> ExitCode {
    match &conf.powerdownflag {
        Some(f) if powerdown::is_set(f) => {
            println!("Power down flag is set");
            ExitCode::SUCCESS
        }
        Some(_) => {
            println!("Power down flag is not set");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("upsmon: POWERDOWNFLAG is not set in {}", confpath.display());
            ExitCode::FAILURE
        }
    }
}

/// Create (or empty) the PID file; a failure is only logged.
fn create_pid_file(path: &Path) -> Option<PidFile> {
    PidFile::create(path)
        .map_err(|e| tracing::warn!("{e}"))
        .ok()
}

/// The parent's clean-up: the PID file names the child, which may not have been allowed to
/// remove it.
fn remove_stale_pid_file(path: &Path) {
    if let Ok(pid) = nut_daemon::read_pid(path) {
        if !nut_daemon::is_running(pid) {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}
