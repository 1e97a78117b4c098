//! The `upsmon` binary: NUT's command line, the start-up checks, one polling task per
//! `MONITOR` line ([`session`]), and the execution of what the decision core ([`upsmon::Machine`])
//! asks for: notifications ([`exec`], [`webhook`]), `FSD` and the wait for the secondaries,
//! and the shutdown itself (FINALDELAY, [`powerdown`] flag, SHUTDOWNCMD).
//!
//! Process model, as NUT's: by default a root parent that only writes POWERDOWNFLAG and runs
//! SHUTDOWNCMD when asked, and a monitoring child running as `RUN_AS_USER` (upsmon.conf),
//! else `-u`, else `nut` ([`privsep`]); the child writes the PID file. `-p` keeps one process
//! with the privileges it was started with.
//!
//! PID file: `$NUT_ALTPIDPATH/upsmon.pid` when that variable is set (as NUT 2.8.1+ does),
//! else `/run/nut/upsmon.pid` (the fixed path of 2.8.0).

mod exec;
mod powerdown;
mod privsep;
mod session;
mod webhook;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Parser};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use nut_conf::upsmon_conf::{Monitor, ShutdownExit, UpsmonConf};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};
use upsmon::{Action, LogLevel, Machine, Phase};

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
    #[arg(short = 'D', action = ArgAction::Count)]
    debug: u8,
    #[arg(short = 'F', action = ArgAction::Count)]
    foreground: u8,
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
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("upsmon: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(debug: u8, to_syslog: bool) {
    let level = match debug {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    nut_daemon::init_logging("upsmon", Some("UPSMON_LOG"), level, to_syslog);
}

/// Where the PID file lives.
fn pidfile() -> PathBuf {
    match std::env::var_os("NUT_ALTPIDPATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p).join("upsmon.pid"),
        _ => PathBuf::from("/run/nut/upsmon.pid"),
    }
}

/// Create (or empty) the PID file; a failure is only logged.
fn create_pid_file(path: &Path) -> Option<std::fs::File> {
    std::fs::File::create(path)
        .map_err(|e| tracing::warn!("writing PID file {}: {e}", path.display()))
        .ok()
}

/// The parent's clean-up: the PID file names the child, which may not have been allowed to
/// remove it.
fn remove_stale_pid_file(pid_file: &Path) {
    if let Ok(pid) = nut_daemon::read_pid(pid_file) {
        if kill(Pid::from_raw(pid), None).is_err() {
            let _ = std::fs::remove_file(pid_file);
        }
    }
}

/// Read upsmon.conf.
pub fn load_conf(path: &Path) -> Result<UpsmonConf> {
    let text = std::fs::read(path).with_context(|| format!("Can't open {}", path.display()))?;
    Ok(nut_conf::upsmon_conf::parse(&text, path)?)
}

fn run(args: Args) -> Result<ExitCode> {
    let foreground = args.foreground > 0 || (args.debug > 0 && !args.background);
    let confpath = nut_daemon::confpath().join("upsmon.conf");

    if let Some(cmd) = &args.command {
        init_logging(args.debug, false);
        let sig = match cmd.as_str() {
            "fsd" => Signal::SIGUSR1,
            "reload" => Signal::SIGHUP,
            "stop" => Signal::SIGTERM,
            other => bail!("Unrecognized command [{other}] (use fsd, reload or stop)"),
        };
        let pid = match args.pid {
            Some(p) => p,
            None => nut_daemon::read_pid(&pidfile())?,
        };
        kill(Pid::from_raw(pid), sig).with_context(|| format!("signalling PID {pid}"))?;
        return Ok(ExitCode::SUCCESS);
    }

    init_logging(args.debug, !foreground && !args.killpower);
    let conf = load_conf(&confpath)?;
    for w in &conf.warnings {
        tracing::warn!("{w}");
    }

    if args.killpower {
        return Ok(match &conf.powerdownflag {
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
        });
    }

    upsmon::check_supplies(&conf).context("Fatal error")?;
    if conf.monitors.is_empty() {
        tracing::warn!(
            "No MONITOR lines in {}: nothing to watch",
            confpath.display()
        );
    }
    if conf.shutdowncmd.is_none() {
        tracing::warn!("Warning: no shutdown command defined!");
    }

    let pid_file = pidfile();
    if let Ok(pid) = nut_daemon::read_pid(&pid_file) {
        if pid != std::process::id() as i32 && kill(Pid::from_raw(pid), None).is_ok() {
            bail!("A previous upsmon instance is already running! (PID {pid})");
        }
    }
    let mut powerdownflag = conf.powerdownflag.clone();
    if let Some(f) = &powerdownflag {
        if !powerdown::clear_at_start(f) {
            powerdownflag = None;
        }
    }

    // (as NUT: RUN_AS_USER in upsmon.conf wins over -u, because the file is read after the
    // command line)
    let child_user = match args.privileged {
        true => None,
        false => {
            let name = conf
                .run_as_user
                .clone()
                .or(args.user.clone())
                .unwrap_or_else(|| nut_daemon::DEFAULT_USER.to_string());
            Some(nut_daemon::lookup_user(&name).context("Fatal error")?)
        }
    };

    if !foreground {
        nix::unistd::daemon(true, false).context("going to the background")?;
    }

    // the PID file is opened before the privileges go, and written once the signal handlers
    // are in place
    let (parent, pid_out) = match child_user {
        None => {
            tracing::info!("Warning: running as one big root process by request (upsmon -p)");
            (None, create_pid_file(&pid_file))
        }
        Some(user) => {
            let plan = privsep::ParentPlan {
                powerdownflag: powerdownflag.clone(),
                shutdowncmd: conf.shutdowncmd.clone(),
                shutdownexit: conf.shutdownexit,
            };
            match privsep::split(plan)? {
                privsep::Side::Parent(code) => {
                    remove_stale_pid_file(&pid_file);
                    return Ok(code);
                }
                privsep::Side::Child(link) => {
                    let out = create_pid_file(&pid_file);
                    nut_daemon::become_user(&user, None).context("dropping privileges")?;
                    tracing::debug!("monitoring as user {}", user.name);
                    (Some(link), out)
                }
            }
        }
    };

    let connect_timeout = args
        .connect_timeout
        .or_else(|| {
            std::env::var("NUT_DEFAULT_CONNECT_TIMEOUT")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .map(Duration::from_secs)
        .unwrap_or(session::IO_TIMEOUT);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    // unbounded: a session must never block on a main loop busy waiting for the secondaries
    // (it would stop answering NUMLOGINS requests)
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let (poll_tx, poll_rx) = watch::channel(Duration::from_secs(conf.pollfreq.max(1)));
    let app = App {
        conf,
        powerdownflag,
        confpath,
        connect_timeout,
        pid_out,
        parent,
        hostname: hostname(),
        sessions: Vec::new(),
        reports: reports_tx,
        poll_interval: poll_rx,
        next_session: 0,
    };
    let code = runtime.block_on(app.run(reports, poll_tx));
    // (an unprivileged child may lack the right; the parent removes it then)
    let _ = std::fs::remove_file(&pid_file);
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(code)
}

struct App {
    conf: UpsmonConf,
    powerdownflag: Option<PathBuf>,
    confpath: PathBuf,
    connect_timeout: Duration,
    /// Written once the signal handlers are in place (`-c` must not kill us).
    pid_out: Option<std::fs::File>,
    /// The root parent, in the split process model.
    parent: Option<privsep::ParentLink>,
    hostname: String,
    /// One per MONITOR line, in the order of upsmon.conf (the machine's UPS indices).
    sessions: Vec<SessionHandle>,
    /// What a new session is given.
    reports: mpsc::UnboundedSender<session::Report>,
    poll_interval: watch::Receiver<Duration>,
    next_session: u64,
}

/// The main loop's side of a running [`session::Session`].
struct SessionHandle {
    id: u64,
    monitor: Monitor,
    commands: mpsc::Sender<session::Command>,
    /// Last status string (for the webhooks).
    status: String,
}

/// An [`Action::Log`] line.
fn log(level: LogLevel, message: &str) {
    match level {
        LogLevel::Debug => tracing::debug!("{message}"),
        LogLevel::Info | LogLevel::Notice => tracing::info!("{message}"),
        LogLevel::Warning => tracing::warn!("{message}"),
        LogLevel::Error | LogLevel::Critical | LogLevel::Alert => tracing::error!("{message}"),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

impl App {
    /// Start polling the UPS of one MONITOR line.
    fn spawn_session(&mut self, monitor: &Monitor) -> SessionHandle {
        let (commands, cmd_rx) = mpsc::channel(8);
        let id = self.next_session;
        self.next_session += 1;
        let s = session::Session {
            id,
            monitor: monitor.clone(),
            tls: session::TlsPolicy::for_host(&self.conf, &monitor.host),
            connect_timeout: self.connect_timeout,
            reports: self.reports.clone(),
            commands: cmd_rx,
            poll_interval: self.poll_interval.clone(),
        };
        tokio::spawn(s.run());
        SessionHandle {
            id,
            monitor: monitor.clone(),
            commands,
            status: String::new(),
        }
    }

    /// Make the sessions follow the MONITOR lines of `self.conf`, as NUT's reload does: a kept
    /// UPS keeps its session, a new one is polled from now on, a removed one is dropped. (A
    /// changed login or role is the machine's [`Action::Reconnect`].)
    fn sync_sessions(&mut self) {
        let mut old = std::mem::take(&mut self.sessions);
        let monitors = self.conf.monitors.clone();
        for m in &monitors {
            let handle = match old.iter().position(|h| h.monitor.system == m.system) {
                Some(i) => old.remove(i),
                None => self.spawn_session(m),
            };
            self.sessions.push(handle);
        }
        for gone in old {
            if !monitors.iter().any(|m| m.system == gone.monitor.system) {
                tracing::info!("No longer monitoring UPS [{}]", gone.monitor.system);
            }
            // dropping the command channel ends the session and closes its connection
        }
    }

    async fn run(
        mut self,
        mut reports: mpsc::UnboundedReceiver<session::Report>,
        poll_tx: watch::Sender<Duration>,
    ) -> ExitCode {
        self.sync_sessions();
        let mut machine = Machine::new(&self.conf, Instant::now());

        let (Ok(mut usr1), Ok(mut hup), Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::user_defined1()),
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            tracing::error!("can't install the signal handlers");
            return ExitCode::FAILURE;
        };
        if let Some(mut f) = self.pid_out.take() {
            use std::io::Write;
            if let Err(e) = writeln!(f, "{}", std::process::id()) {
                tracing::warn!("writing PID file: {e}");
            }
        }
        let mut clock = upsmon::clock::ClockWatch::new(SystemTime::now(), Instant::now());
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let actions = tokio::select! {
                // (App keeps a sender, so this never ends, even with no MONITOR lines)
                Some(report) = reports.recv() => {
                    // a session dropped by a reload may still report once: ignore it
                    let Some(ups) = self.sessions.iter().position(|h| h.id == report.session)
                    else {
                        continue;
                    };
                    if let upsmon::PollResult::Status { status, .. } = &report.result {
                        self.sessions[ups].status.clone_from(status);
                    }
                    let obs = upsmon::Observation { ups, result: report.result };
                    // decide at once after each poll, as NUT's recalc() follows pollups()
                    let now = Instant::now();
                    let mut actions = machine.observe(obs, now);
                    actions.extend(machine.tick(now));
                    actions
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let mut actions = Vec::new();
                    if let Some(jump) = clock.check(SystemTime::now(), now) {
                        let text = upsmon::clock::jump_text(jump);
                        tracing::warn!(
                            "It seems we have slept without warning or the system clock was changed by {text}"
                        );
                        actions.push(machine.notification(
                            nut_conf::notify::NotifyEvent::SuspendTimejumpUnexpected,
                            None,
                            Some(&text),
                        ));
                        actions.extend(machine.resumed(now));
                    }
                    actions.extend(machine.tick(now));
                    if self.parent.as_ref().is_some_and(|p| !p.parent_alive()) {
                        actions.extend(machine.parent_died(now));
                    }
                    actions
                }
                _ = usr1.recv() => {
                    tracing::warn!("Signal 10: User requested FSD");
                    machine.forced(Instant::now())
                }
                _ = hup.recv() => self.reload(&mut machine),
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = quit.recv() => break,
            };
            if let Some(code) = self.execute(&mut machine, actions, &poll_tx).await {
                return code;
            }
        }
        tracing::info!("Signal received: exiting");
        ExitCode::SUCCESS
    }

    /// SIGHUP: re-read upsmon.conf; everything takes effect at once, MONITOR lines included,
    /// except what the root parent was started with (SHUTDOWNCMD, POWERDOWNFLAG).
    fn reload(&mut self, machine: &mut Machine) -> Vec<Action> {
        tracing::info!("Reloading configuration");
        let conf = match load_conf(&self.confpath) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("reload failed, keeping the old configuration: {e:#}");
                return Vec::new();
            }
        };
        if self.parent.is_some() {
            // the root parent keeps what it was started with
            if conf.shutdowncmd != self.conf.shutdowncmd {
                split_mode_warning("SHUTDOWNCMD");
            }
            if conf.powerdownflag != self.conf.powerdownflag {
                split_mode_warning("POWERDOWNFLAG");
            }
        }
        match machine.reload(&conf, Instant::now()) {
            Ok(actions) => {
                self.conf = conf;
                self.sync_sessions();
                actions
            }
            Err(e) => {
                tracing::error!("reload refused, keeping the old configuration: {e}");
                Vec::new()
            }
        }
    }

    fn system(&self, ups: Option<usize>) -> String {
        ups.and_then(|i| self.conf.monitors.get(i))
            .map(|m| m.system.clone())
            .unwrap_or_default()
    }

    fn notify(&self, event: nut_conf::notify::NotifyEvent, ups: Option<usize>, message: &str) {
        let name = event.name();
        let flags = self.conf.notify_flags_for(event);
        let system = self.system(ups);
        if !flags.ignore {
            if flags.syslog {
                tracing::warn!("{message}");
            }
            if flags.wall {
                exec::spawn_wall(message);
            }
            if flags.exec {
                match &self.conf.notifycmd {
                    Some(cmd) => exec::spawn_notifycmd(cmd, message, &system, name),
                    None => tracing::debug!("EXEC for {name} but no NOTIFYCMD"),
                }
            }
        }
        let hooks = self.conf.hooks_for(event);
        if !hooks.is_empty() {
            let ev = webhook::Event {
                event: name.to_string(),
                ups: system,
                message: message.to_string(),
                status: ups
                    .and_then(|i| self.sessions.get(i))
                    .map(|h| h.status.clone())
                    .unwrap_or_default(),
                time: SystemTime::now(),
                host: self.hostname.clone(),
            };
            for h in hooks {
                webhook::spawn_send(h, &ev);
            }
        }
    }

    async fn ask<T>(
        &self,
        ups: usize,
        make: impl FnOnce(oneshot::Sender<T>) -> session::Command,
    ) -> Option<T> {
        let tx = &self.sessions.get(ups)?.commands;
        let (rtx, rrx) = oneshot::channel();
        tx.send(make(rtx)).await.ok()?;
        tokio::time::timeout(session::IO_TIMEOUT * 2, rrx)
            .await
            .ok()?
            .ok()
    }

    /// Carry out the core's actions in order; `Some(code)` when upsmon must exit.
    async fn execute(
        &mut self,
        machine: &mut Machine,
        actions: Vec<Action>,
        poll_tx: &watch::Sender<Duration>,
    ) -> Option<ExitCode> {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Notify {
                    event,
                    ups,
                    message,
                } => self.notify(event, ups, &message),
                Action::Log { level, message } => log(level, &message),
                Action::Wall { message } => exec::spawn_wall(&message),
                Action::SendFsd { ups } => {
                    let sys = self.system(Some(ups));
                    match self.ask(ups, session::Command::Fsd).await {
                        Some(true) => {
                            tracing::info!("FSD set on UPS [{sys}]");
                            queue.extend(machine.fsd_confirmed(ups, Instant::now()));
                        }
                        _ => tracing::error!("FSD set on UPS [{sys}] failed"),
                    }
                }
                Action::WaitForSecondaries { ups } => {
                    // every 250 ms until the machine decides (HOSTSYNC is its business)
                    loop {
                        let mut max = 0;
                        for &u in &ups {
                            let n = self.ask(u, session::Command::NumLogins).await;
                            max = max.max(u64::from(n.unwrap_or(0)));
                        }
                        let next = machine.numlogins(max, Instant::now());
                        let done = next.iter().any(|a| matches!(a, Action::Shutdown));
                        queue.extend(next);
                        let waiting =
                            matches!(machine.phase(), Phase::WaitingForSecondaries { .. });
                        if done || !waiting {
                            break;
                        }
                        tokio::time::sleep(upsmon::machine::NUMLOGINS_INTERVAL).await;
                    }
                }
                Action::Shutdown => {
                    poll_tx.send_replace(session::STOP_POLLING);
                    return Some(self.shutdown().await);
                }
                Action::SetPollInterval(d) => {
                    poll_tx.send_if_modified(|cur| {
                        let changed = *cur != d;
                        *cur = d;
                        changed
                    });
                }
                Action::Reconnect { ups } => {
                    // a new session logs in with the new credentials or role; dropping the
                    // old handle ends the old one
                    if let Some(m) = self.conf.monitors.get(ups).cloned() {
                        let handle = self.spawn_session(&m);
                        if let Some(h) = self.sessions.get_mut(ups) {
                            *h = handle;
                        }
                    }
                }
            }
        }
        None
    }

    /// FINALDELAY, then POWERDOWNFLAG and SHUTDOWNCMD (by the root parent in the split
    /// model), exit.
    async fn shutdown(&self) -> ExitCode {
        tokio::time::sleep(Duration::from_secs(self.conf.finaldelay)).await;
        let by_parent = match &self.parent {
            None => false,
            Some(p) => match p.request_shutdown() {
                Ok(()) => true,
                Err(e) => {
                    // Beyond NUT, which gives up here: the shutdown is due, so try it with the
                    // rights we have (a sudo SHUTDOWNCMD, or RUN_AS_USER root, still works).
                    tracing::error!("Unable to call parent pipe for shutdown: {e}");
                    false
                }
            },
        };
        if !by_parent {
            self.shutdown_here().await;
        }
        // SHUTDOWNEXIT (2.8.1+): stay connected for a while, or until killed
        let stay = match self.conf.shutdownexit {
            ShutdownExit::Yes => None,
            ShutdownExit::No => Some(Duration::MAX),
            ShutdownExit::After(s) => Some(Duration::from_secs(s)),
        };
        if let Some(d) = stay {
            tracing::info!("SHUTDOWNEXIT: staying connected");
            let _ = tokio::time::timeout(d, std::future::pending::<()>()).await;
        }
        ExitCode::SUCCESS
    }

    /// POWERDOWNFLAG and SHUTDOWNCMD from this process.
    async fn shutdown_here(&self) {
        if !privsep::is_root() {
            tracing::warn!("Not root, shutdown may fail");
        }
        if let Some(f) = &self.powerdownflag {
            if let Err(e) = powerdown::set(f) {
                tracing::error!("Failed to create power down flag {}: {e}", f.display());
            }
        }
        match self.conf.shutdowncmd.clone() {
            Some(cmd) => {
                let _ = tokio::task::spawn_blocking(move || exec::run_shutdowncmd(&cmd)).await;
            }
            None => tracing::error!("Unable to call shutdown command: no SHUTDOWNCMD"),
        }
    }
}

/// NUT's warning for a setting only the root parent uses.
fn split_mode_warning(directive: &str) {
    tracing::warn!("Warning: {directive} redefined in split-process mode!");
    tracing::warn!("You must restart upsmon for this change to work");
}
