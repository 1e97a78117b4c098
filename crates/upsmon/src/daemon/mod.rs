//! The running upsmon: what comes in (a poll result, the 250 ms timer, `-c fsd`, `-c reload`,
//! a stop signal) goes to the decision core ([`Machine`]), and what it decides is carried out
//! ([`execute`]: notifications routed per NOTIFYFLAG and NOTIFYURLFLAG ([`route`]), FSD, the
//! wait for the secondaries, the shutdown). The effects go through two seams, the upsd
//! sessions ([`Sessions`]) and the machine upsmon runs on ([`Host`]), so the tests drive all
//! of it with fakes.

mod execute;
mod route;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nut_conf::notify::NotifyEvent;
use nut_conf::upsmon_conf::UpsmonConf;
use nut_daemon::{Notifier, PidFile};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::clock::{jump_text, ClockWatch};
use crate::host::Host;
use crate::machine::{Action, LogLevel, Machine, Observation, PollResult};
use crate::sessions::{Report, SessionId, Sessions};

/// How often the timer input comes (clock check, `DEADTIME`, the parent).
const TICK: Duration = Duration::from_millis(250);

/// What the daemon reacts to.
#[derive(Debug)]
pub(crate) enum Input {
    /// A session's poll result.
    Report(Report),
    /// The timer: the clock check, the machine's tick, the parent check.
    Tick,
    /// SIGUSR1 (`upsmon -c fsd`).
    ForcedShutdown,
    /// SIGHUP (`upsmon -c reload`).
    Reload,
    /// SIGTERM, SIGINT or SIGQUIT (`upsmon -c stop`).
    Stop,
}

/// What the daemon starts with besides upsmon.conf.
pub(crate) struct Settings {
    /// Where upsmon.conf is (re-read on reload).
    pub(crate) confpath: PathBuf,
    /// POWERDOWNFLAG as checked at start (`None` if disabled); a reload does not change it.
    pub(crate) powerdownflag: Option<PathBuf>,
    /// This host's name, for the webhooks.
    pub(crate) hostname: String,
}

/// The session of one `MONITOR` line.
struct Slot {
    session: SessionId,
    system: String,
    /// Last `ups.status` (for the webhooks).
    status: String,
    /// A poll result (of any kind) has come in.
    polled: bool,
}

/// The running upsmon.
pub(crate) struct Daemon<S, H> {
    conf: UpsmonConf,
    settings: Settings,
    machine: Machine,
    /// One per `MONITOR` line, in upsmon.conf's order (the machine's UPS indices).
    slots: Vec<Slot>,
    clock: ClockWatch,
    sessions: S,
    host: H,
    /// `LOGOUT` on these `MONITOR` entries once SHUTDOWNCMD is handed over.
    logout_after_shutdown: Vec<usize>,
    /// Polls begun before this (a withdrawn FSD) read a status that no longer holds.
    stale_before: Option<Instant>,
}

/// The monotonic time: tokio's, which the tests pause.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl<S: Sessions, H: Host> Daemon<S, H> {
    /// Start watching the UPSes of `conf`: a session each, nothing known about any yet.
    pub(crate) fn start(conf: UpsmonConf, settings: Settings, sessions: S, host: H) -> Self {
        let now = now();
        let mut daemon = Daemon {
            machine: Machine::new(&conf, now),
            clock: ClockWatch::new(host.wall_clock(), now),
            conf,
            settings,
            slots: Vec::new(),
            sessions,
            host,
            logout_after_shutdown: Vec::new(),
            stale_before: None,
        };
        daemon.sync_sessions();
        daemon
    }

    /// React to one input; `Some(code)` when upsmon must exit.
    pub(crate) async fn handle(&mut self, input: Input) -> Option<ExitCode> {
        let now = now();
        let actions = match input {
            Input::Report(report) => self.report(report, now)?,
            Input::Tick => self.tick(now),
            Input::ForcedShutdown => {
                self.host
                    .log(LogLevel::Warning, "Signal 10: User requested FSD");
                self.machine.forced(now)
            }
            Input::Reload => self.reload(),
            Input::Stop => {
                self.host.log(LogLevel::Info, "Signal received: exiting");
                return Some(ExitCode::SUCCESS);
            }
        };
        self.execute(actions).await
    }

    /// A poll result; `None` for a late one from a session a reload ended, or one begun
    /// before an FSD was withdrawn.
    fn report(&mut self, report: Report, now: Instant) -> Option<Vec<Action>> {
        let ups = self
            .slots
            .iter()
            .position(|s| s.session == report.session)?;
        if self.stale_before.is_some_and(|t| report.started < t) {
            return None;
        }
        self.slots[ups].polled = true;
        if let PollResult::Status { status, .. } = &report.result {
            self.slots[ups].status.clone_from(status);
        }
        let obs = Observation {
            ups,
            result: report.result,
        };
        // decide at once after each poll, as NUT's recalc() follows pollups()
        let mut actions = self.machine.observe(obs, now);
        actions.extend(self.machine.tick(now));
        Some(actions)
    }

    fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(jump) = self.clock.check(self.host.wall_clock(), now) {
            let text = jump_text(jump);
            self.host.log(
                LogLevel::Warning,
                &format!(
                    "It seems we have slept without warning or the system clock was changed by {text}"
                ),
            );
            actions.push(self.machine.notification(
                NotifyEvent::SuspendTimejumpUnexpected,
                None,
                Some(&text),
            ));
            actions.extend(self.machine.resumed(now));
        }
        actions.extend(self.machine.tick(now));
        if self.host.parent_gone() {
            actions.extend(self.machine.parent_died(now));
        }
        actions
    }

    /// SIGHUP: re-read upsmon.conf; everything takes effect at once, MONITOR lines included,
    /// except what the root parent was started with (SHUTDOWNCMD, POWERDOWNFLAG).
    fn reload(&mut self) -> Vec<Action> {
        self.host.log(LogLevel::Info, "Reloading configuration");
        let conf = match crate::start::load_conf(&self.settings.confpath) {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("reload failed, keeping the old configuration: {e}");
                self.host.log(LogLevel::Error, &msg);
                return Vec::new();
            }
        };
        if self.host.has_parent() {
            if conf.shutdowncmd != self.conf.shutdowncmd {
                self.split_mode_warning("SHUTDOWNCMD");
            }
            if conf.powerdownflag != self.conf.powerdownflag {
                self.split_mode_warning("POWERDOWNFLAG");
            }
        }
        match self.machine.reload(&conf, now()) {
            Ok(actions) => {
                self.conf = conf;
                self.sync_sessions();
                actions
            }
            Err(e) => {
                let msg = format!("reload refused, keeping the old configuration: {e}");
                self.host.log(LogLevel::Error, &msg);
                Vec::new()
            }
        }
    }

    /// NUT's warning for a setting only the root parent uses.
    fn split_mode_warning(&mut self, directive: &str) {
        let msg = format!("Warning: {directive} redefined in split-process mode!");
        self.host.log(LogLevel::Warning, &msg);
        self.host.log(
            LogLevel::Warning,
            "You must restart upsmon for this change to work",
        );
    }

    /// Make the sessions follow the MONITOR lines, as NUT's reload does: a kept UPS (same
    /// system name) keeps its session, a new one is polled from now on, a removed one is
    /// dropped. (A changed login or role is the machine's [`Action::Reconnect`].)
    fn sync_sessions(&mut self) {
        self.sessions.configure(&self.conf);
        let mut old = std::mem::take(&mut self.slots);
        for m in &self.conf.monitors {
            let slot = match old.iter().position(|s| s.system == m.system) {
                Some(i) => old.remove(i),
                None => Slot {
                    session: self.sessions.spawn(m, &self.conf),
                    system: m.system.clone(),
                    status: String::new(),
                    polled: false,
                },
            };
            self.slots.push(slot);
        }
        for gone in old {
            let msg = format!("No longer monitoring UPS [{}]", gone.system);
            self.host.log(LogLevel::Info, &msg);
            self.sessions.end(gone.session);
        }
    }

    /// Every UPS has had its first poll result (the first round is over).
    fn first_round_done(&self) -> bool {
        self.slots.iter().all(|s| s.polled)
    }

    /// The `STATUS=` line for systemd.
    fn status_line(&self) -> String {
        format!("Monitoring {} UPS", self.slots.len())
    }

    /// The system name of `MONITOR` entry `ups` (empty for none).
    fn system(&self, ups: Option<usize>) -> String {
        ups.and_then(|i| self.conf.monitors.get(i))
            .map(|m| m.system.clone())
            .unwrap_or_default()
    }
}

/// Run `daemon` on the OS signals, the timer and the sessions' `reports` until it exits.
/// The PID file is written once the signal handlers are in place (so `-c` cannot kill us).
/// systemd hears `READY=1` after the first poll round, `RELOADING=1` and `READY=1` around a
/// reload, `STOPPING=1` on a stop signal, and the watchdog pings from this loop (and, while an
/// input is handled, during its bounded waits: FSD, HOSTSYNC, FINALDELAY, SHUTDOWNCMD).
pub(crate) async fn run<S: Sessions, H: Host>(
    mut daemon: Daemon<S, H>,
    mut reports: mpsc::UnboundedReceiver<Report>,
    pid_file: Option<&mut PidFile>,
    notifier: &mut Notifier,
) -> ExitCode {
    let (Ok(mut usr1), Ok(mut hup), Ok(mut term), Ok(mut int), Ok(mut quit)) = (
        signal(SignalKind::user_defined1()),
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
    ) else {
        daemon
            .host
            .log(LogLevel::Error, "can't install the signal handlers");
        return ExitCode::FAILURE;
    };
    if let Some(f) = pid_file {
        if let Err(e) = f.write() {
            daemon.host.log(LogLevel::Warning, &e.to_string());
        }
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // READY=1 sent (and not taken back by a reload)
    let mut announced = false;
    loop {
        let input = tokio::select! {
            // (the pool keeps a sender, so this never ends, even with no MONITOR lines)
            Some(report) = reports.recv() => Input::Report(report),
            _ = tick.tick() => Input::Tick,
            _ = usr1.recv() => Input::ForcedShutdown,
            _ = hup.recv() => Input::Reload,
            _ = term.recv() => Input::Stop,
            _ = int.recv() => Input::Stop,
            _ = quit.recv() => Input::Stop,
        };
        match input {
            Input::Reload if announced => {
                notifier.reloading();
                announced = false;
            }
            Input::Stop => notifier.stopping(),
            _ => {}
        }
        if let Some(code) = handle_pinging(&mut daemon, input, notifier).await {
            return code;
        }
        if !announced && daemon.first_round_done() {
            notifier.ready(&daemon.status_line());
            announced = true;
        }
        notifier.watchdog_tick();
    }
}

/// `daemon.handle(input)`, pinging the watchdog meanwhile.
async fn handle_pinging<S: Sessions, H: Host>(
    daemon: &mut Daemon<S, H>,
    input: Input,
    notifier: &mut Notifier,
) -> Option<ExitCode> {
    let handled = daemon.handle(input);
    let Some(every) = notifier.watchdog_interval() else {
        return handled.await;
    };
    tokio::pin!(handled);
    let mut pings = tokio::time::interval(every);
    loop {
        tokio::select! {
            code = &mut handled => return code,
            _ = pings.tick() => notifier.watchdog_tick(),
        }
    }
}
