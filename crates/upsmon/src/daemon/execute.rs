//! Carrying out the decision core's [`Action`]s, in order: notifications, log lines, `wall`,
//! `FSD` with its confirmation fed back, the wait for the secondaries (`NUMLOGINS` every
//! 250 ms until the machine decides; HOSTSYNC is its business), the poll interval, a
//! session replaced, and the shutdown (FINALDELAY, then POWERDOWNFLAG and SHUTDOWNCMD, by the
//! root parent in the split process model, then SHUTDOWNEXIT).

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Duration;

use nut_conf::upsmon_conf::ShutdownExit;

use super::{now, Daemon};
use crate::host::Host;
use crate::machine::NUMLOGINS_INTERVAL;
use crate::machine::{Action, LogLevel, Phase};
use crate::sessions::Sessions;

impl<S: Sessions, H: Host> Daemon<S, H> {
    /// Carry out `actions` and what they lead to; `Some(code)` when upsmon must exit.
    pub(super) async fn execute(&mut self, actions: Vec<Action>) -> Option<ExitCode> {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            let Some(action) = self.at_once(action) else {
                continue;
            };
            match action {
                Action::SendFsd { ups } => {
                    // (the FSD notification goes out now, not after the wait that follows)
                    for next in self.send_fsd(ups).await.into_iter().rev() {
                        queue.push_front(next);
                    }
                }
                Action::WaitForSecondaries { ups } => {
                    queue.extend(self.wait_for_secondaries(&ups).await);
                }
                Action::Shutdown => {
                    self.sessions.stop_polling();
                    return Some(self.shutdown().await);
                }
                _ => {}
            }
        }
        None
    }

    /// Carry out an action that takes no time; the others are given back.
    fn at_once(&mut self, action: Action) -> Option<Action> {
        match action {
            Action::Notify {
                event,
                ups,
                message,
            } => self.notify(event, ups, &message),
            Action::Log { level, message } => self.host.log(level, &message),
            Action::Wall { message } => self.host.wall(&message),
            Action::SetPollInterval(every) => self.sessions.set_poll_interval(every),
            Action::Reconnect { ups } => self.reconnect(ups),
            Action::LogoutAfterShutdown { ups } => self.logout_after_shutdown = ups,
            Action::SendFsd { .. }
            | Action::WaitForSecondaries { .. }
            | Action::ClearFsd { .. }
            | Action::Shutdown => return Some(action),
        }
        None
    }

    /// `FSD` on the UPS's session; the machine hears of an `OK`.
    async fn send_fsd(&mut self, ups: usize) -> Vec<Action> {
        let sys = self.system(Some(ups));
        let ok = match self.slots.get(ups) {
            Some(slot) => self.sessions.fsd(slot.session).await,
            None => false,
        };
        if ok {
            self.host
                .log(LogLevel::Info, &format!("FSD set on UPS [{sys}]"));
            self.machine.fsd_confirmed(ups, now())
        } else {
            self.host
                .log(LogLevel::Error, &format!("FSD set on UPS [{sys}] failed"));
            Vec::new()
        }
    }

    /// Ask `NUMLOGINS` of the `ups` every [`NUMLOGINS_INTERVAL`] and report the largest (a
    /// failed request counts as 0) until the machine shuts down or stops waiting. What it
    /// says while waiting (`SHUTDOWN_HOSTSYNC`) is delivered at once; what ends the wait is
    /// returned.
    async fn wait_for_secondaries(&mut self, ups: &[usize]) -> Vec<Action> {
        loop {
            let called_off = self.watch_while_waiting().await;
            if self.machine.phase() == Phase::Monitoring {
                return called_off;
            }
            let mut max = 0;
            for &u in ups {
                let n = match self.slots.get(u) {
                    Some(slot) => self.sessions.numlogins(slot.session).await,
                    None => None,
                };
                max = max.max(u64::from(n.unwrap_or(0)));
            }
            let next = self.machine.numlogins(max, now());
            let done = next.iter().any(|a| matches!(a, Action::Shutdown));
            let waiting = matches!(self.machine.phase(), Phase::WaitingForSecondaries { .. });
            if done || !waiting {
                return next;
            }
            let later: Vec<Action> = next.into_iter().filter_map(|a| self.at_once(a)).collect();
            if !later.is_empty() {
                return later;
            }
            tokio::time::sleep(NUMLOGINS_INTERVAL).await;
        }
    }

    /// `CLEARFSD_ON_MAINS`: read every UPS's status and, once the machine asks, `CLEARFSD`.
    /// What the machine says is delivered at once; when it calls the shutdown off, what
    /// follows is returned (and polls begun before now are dropped as stale).
    async fn watch_while_waiting(&mut self) -> Vec<Action> {
        if !self.machine.polls_while_waiting() {
            return Vec::new();
        }
        let mut asks = Vec::new();
        for i in 0..self.slots.len() {
            let session = self.slots[i].session;
            if let Some(status) = self.sessions.status(session).await {
                asks.extend(self.machine.status_while_waiting(i, &status, now()));
            }
        }
        let mut later = Vec::new();
        for ask in asks {
            let Action::ClearFsd { ups } = ask else {
                continue;
            };
            let Some(session) = self.slots.get(ups).map(|s| s.session) else {
                continue;
            };
            let result = self.sessions.clear_fsd(session).await;
            let next = self.machine.fsd_clear_result(ups, result, now());
            if self.machine.phase() == Phase::Monitoring {
                self.stale_before = Some(now());
            }
            later.extend(next.into_iter().filter_map(|a| self.at_once(a)));
        }
        later
    }

    /// A new session logs in with the new credentials or role; the old one ends.
    fn reconnect(&mut self, ups: usize) {
        let Some(monitor) = self.conf.monitors.get(ups) else {
            return;
        };
        let Some(slot) = self.slots.get_mut(ups) else {
            return;
        };
        let new = self.sessions.spawn(monitor, &self.conf);
        let old = std::mem::replace(&mut slot.session, new);
        slot.status.clear();
        self.sessions.end(old);
    }

    /// FINALDELAY, then POWERDOWNFLAG and SHUTDOWNCMD (by the root parent in the split
    /// model), then SHUTDOWNEXIT.
    async fn shutdown(&mut self) -> ExitCode {
        tokio::time::sleep(Duration::from_secs(self.conf.finaldelay)).await;
        let by_parent = self.host.has_parent()
            && match self.host.ask_parent_to_shut_down() {
                Ok(()) => true,
                Err(e) => {
                    // Beyond NUT, which gives up here: the shutdown is due, so try it with the
                    // rights we have (a sudo SHUTDOWNCMD, or RUN_AS_USER root, still works).
                    let msg = format!("Unable to call parent pipe for shutdown: {e}");
                    self.host.log(LogLevel::Error, &msg);
                    false
                }
            };
        if !by_parent {
            self.shutdown_here().await;
        }
        // left on its own limit: the primary's NUMLOGINS must not count this host any more
        for ups in std::mem::take(&mut self.logout_after_shutdown) {
            if let Some(id) = self.slots.get(ups).map(|s| s.session) {
                self.sessions.logout(id).await;
                let sys = self.system(Some(ups));
                self.host
                    .log(LogLevel::Info, &format!("Logged out of UPS [{sys}]"));
            }
        }
        // SHUTDOWNEXIT (2.8.1+): stay connected for a while, or until killed
        let stay = match self.conf.shutdownexit {
            ShutdownExit::Yes => None,
            ShutdownExit::No => Some(Duration::MAX),
            ShutdownExit::After(s) => Some(Duration::from_secs(s)),
        };
        if let Some(d) = stay {
            self.host
                .log(LogLevel::Info, "SHUTDOWNEXIT: staying connected");
            let _ = tokio::time::timeout(d, std::future::pending::<()>()).await;
        }
        ExitCode::SUCCESS
    }

    /// POWERDOWNFLAG and SHUTDOWNCMD from this process.
    async fn shutdown_here(&mut self) {
        if !self.host.is_root() {
            self.host
                .log(LogLevel::Warning, "Not root, shutdown may fail");
        }
        if let Some(f) = &self.settings.powerdownflag {
            if let Err(e) = self.host.set_powerdown_flag(f) {
                let msg = format!("Failed to create power down flag {}: {e}", f.display());
                self.host.log(LogLevel::Error, &msg);
            }
        }
        match &self.conf.shutdowncmd {
            Some(cmd) => self.host.run_shutdowncmd(cmd).await,
            None => self.host.log(
                LogLevel::Error,
                "Unable to call shutdown command: no SHUTDOWNCMD",
            ),
        }
    }
}
