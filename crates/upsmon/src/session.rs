//! One task per `MONITOR` line: keeps a session with upsd open (connect, `STARTTLS` probe,
//! `USERNAME`, `PASSWORD`, `LOGIN`, `PRIMARY`/`MASTER`), polls `GET VAR <ups> ups.status` at
//! the current poll interval and reports each result to the daemon ([`crate::sessions`]). The
//! daemon sends back commands that need this UPS's connection (`FSD`, `GET NUMLOGINS`).
//!
//! An unreachable or misbehaving upsd is never fatal: the poll result is `CommLost` and the
//! next poll connects again.

use std::time::Duration;

use nut_client::{Client, ErrCode, Error, TlsConfig};
use nut_conf::upsmon_conf::{Monitor, Role, UpsmonConf};
use tokio::sync::{mpsc, oneshot, watch};

use crate::machine::{Battery, ClearResult, PollResult};
use crate::sessions::{Report, SessionId};

/// How long connecting and each request may take (stock upsclient: 5 s per reply line).
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Poll interval meaning "stop polling" (during the shutdown, as upsmon does not poll in
/// FINALDELAY either).
pub(crate) const STOP_POLLING: Duration = Duration::MAX;

/// Requests the daemon makes to a session.
pub(crate) enum Command {
    /// `FSD <ups>`; the answer says whether upsd replied OK.
    Fsd(oneshot::Sender<bool>),
    /// `GET NUMLOGINS <ups>`; `None` when it failed or there is no connection.
    NumLogins(oneshot::Sender<Option<u32>>),
    /// `LOGOUT`, and no new connection afterwards (the shutdown).
    Logout(oneshot::Sender<()>),
    /// `GET VAR <ups> ups.status`; `None` when it failed.
    Status(oneshot::Sender<Option<String>>),
    /// `CLEARFSD <ups>`.
    ClearFsd(oneshot::Sender<ClearResult>),
}

/// The battery values a session reads with the status, only while it says `OB`: those an
/// `ONBATT_SHUTDOWN_RUNTIME` / `ONBATT_SHUTDOWN_CHARGE` needs (none: the wire is stock's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BatteryReads {
    /// `GET VAR <ups> battery.runtime`.
    pub(crate) runtime: bool,
    /// `GET VAR <ups> battery.charge`.
    pub(crate) charge: bool,
}

impl BatteryReads {
    /// What `conf`'s limits need.
    pub(crate) fn of(conf: &UpsmonConf) -> BatteryReads {
        BatteryReads {
            runtime: conf.onbatt_shutdown_runtime.is_some(),
            charge: conf.onbatt_shutdown_charge.is_some(),
        }
    }
}

/// How this session sets up TLS.
#[derive(Clone)]
pub(crate) struct TlsPolicy {
    /// Refuse to continue in clear text when upsd does not offer TLS.
    force: bool,
    /// Check the server certificate against `certpath`.
    verify: bool,
    /// `CERTPATH`: the CA file or directory.
    certpath: Option<std::path::PathBuf>,
    /// `CERTFILE`: the client certificate and key to present when upsd asks.
    certfile: Option<std::path::PathBuf>,
}

impl TlsPolicy {
    /// CERTVERIFY/FORCESSL, overridden by a `CERTHOST` line for this host.
    pub(crate) fn for_host(conf: &UpsmonConf, host: &str) -> TlsPolicy {
        let mut p = TlsPolicy {
            force: conf.forcessl,
            verify: conf.certverify,
            certpath: conf.certpath.clone(),
            certfile: conf.certfile.clone(),
        };
        if let Some(h) = conf.certhosts.iter().find(|h| h.host == host) {
            p.force = h.forcessl;
            p.verify = h.verify;
        }
        p
    }

    fn config(&self, host: &str) -> Result<TlsConfig, String> {
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let config = if self.verify {
            match &self.certpath {
                Some(p) => TlsConfig::from_ca_path(p, name).map_err(|e| e.to_string())?,
                None => return Err("CERTVERIFY is on but no CERTPATH is set".into()),
            }
        } else {
            TlsConfig::dangerous_no_verify(name).map_err(|e| e.to_string())?
        };
        match &self.certfile {
            Some(f) => config.with_client_cert_file(f).map_err(|e| e.to_string()),
            None => Ok(config),
        }
    }
}

/// Whether a status string carries `word` (`ALARM`: the cue to read `ups.alarm`; `OB`).
fn has_word(status: &str, word: &str) -> bool {
    status
        .split_ascii_whitespace()
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// What a session needs to run.
pub(crate) struct Session {
    /// What its reports carry.
    pub(crate) id: SessionId,
    /// The `MONITOR` line.
    pub(crate) monitor: Monitor,
    /// `CERTVERIFY`, `FORCESSL` and the certificates for its host.
    pub(crate) tls: TlsPolicy,
    /// `-W` / `NUT_DEFAULT_CONNECT_TIMEOUT`.
    pub(crate) connect_timeout: Duration,
    /// Where the poll results go.
    pub(crate) reports: mpsc::UnboundedSender<Report>,
    /// The daemon's requests; closed when the daemon ends the session.
    pub(crate) commands: mpsc::Receiver<Command>,
    /// The poll interval, [`STOP_POLLING`] during the shutdown.
    pub(crate) poll_interval: watch::Receiver<Duration>,
    /// The battery values to read while on battery.
    pub(crate) reads: watch::Receiver<BatteryReads>,
}

/// How to reach the session's upsd: what its poll connection and its watch connection share.
#[derive(Clone)]
struct Dial {
    monitor: Monitor,
    tls: TlsPolicy,
    connect_timeout: Duration,
}

impl Dial {
    fn addr(&self) -> String {
        let h = &self.monitor.host;
        if h.contains(':') && !h.starts_with('[') {
            format!("[{h}]:{}", self.monitor.port)
        } else {
            format!("{h}:{}", self.monitor.port)
        }
    }

    /// Connect, with TLS as the policy says.
    async fn connect(&self) -> Result<Client, String> {
        let sys = &self.monitor.system;
        let mut c = Client::connect_timeout(self.addr(), Some(self.connect_timeout))
            .await
            .map_err(|e| format!("connect failed: {e}"))?;
        c.set_timeout(Some(IO_TIMEOUT));
        let tls = self.tls.config(&self.monitor.host);
        match tls {
            Ok(cfg) => match c.starttls(&cfg).await {
                Ok(()) => tracing::debug!("{sys}: TLS session established"),
                Err(Error::TlsUnavailable(code)) => {
                    if self.tls.force {
                        return Err(format!(
                            "upsd does not offer TLS (ERR {code}) and FORCESSL is on"
                        ));
                    }
                }
                Err(e) => return Err(format!("STARTTLS failed: {e}")),
            },
            Err(e) => {
                if self.tls.force || self.tls.verify {
                    return Err(format!("TLS set-up: {e}"));
                }
                tracing::warn!("{sys}: TLS set-up failed ({e}), going on in clear text");
            }
        }
        Ok(c)
    }

    /// The watch connection (nut-rs's upsd): `WATCH <ups>`, then every status pushed goes to
    /// the poll loop, and `None` (unknown: poll) once at the start, so that a change just
    /// before the watch began is not missed. A lost connection is made again after a pause
    /// that doubles up to [`WATCH_RETRY_MAX`]; a upsd without `WATCH` (stock) ends it,
    /// logged once.
    async fn watch(self, pushed: watch::Sender<Option<String>>) {
        let sys = &self.monitor.system;
        let mut pause = WATCH_RETRY;
        loop {
            let watcher = match self.connect().await {
                Ok(c) => c.watch(&self.monitor.ups).await.map_err(|e| {
                    if e.code() == Some(ErrCode::UnknownCommand) {
                        None
                    } else {
                        Some(format!("WATCH failed: {e}"))
                    }
                }),
                Err(e) => Err(Some(e)),
            };
            match watcher {
                Ok(mut w) => {
                    tracing::debug!("UPS [{sys}]: watching its status (pushed by upsd)");
                    pause = WATCH_RETRY;
                    pushed.send_modify(|p| *p = None);
                    let e = loop {
                        match w.next().await {
                            Ok((_, status)) => pushed.send_modify(|p| *p = Some(status)),
                            Err(e) => break e,
                        }
                    };
                    tracing::info!("UPS [{sys}]: status watch lost ({e}); polling meanwhile");
                }
                Err(None) => {
                    tracing::info!(
                        "UPS [{sys}]: upsd has no status push (WATCH), polling every POLLFREQ"
                    );
                    return;
                }
                Err(Some(e)) => tracing::debug!("UPS [{sys}]: status watch: {e}"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(WATCH_RETRY_MAX);
        }
    }
}

/// The first pause before a lost watch connection is made again.
const WATCH_RETRY: Duration = Duration::from_secs(1);
/// The longest pause between attempts to make the watch connection again.
const WATCH_RETRY_MAX: Duration = Duration::from_secs(60);
/// The least time between the starts of two polls when pushes come faster.
const PUSH_GAP: Duration = Duration::from_millis(10);

/// A task ended when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Session {
    fn dial(&self) -> Dial {
        Dial {
            monitor: self.monitor.clone(),
            tls: self.tls.clone(),
            connect_timeout: self.connect_timeout,
        }
    }

    /// Connect and log in. Login problems are only logged, as upsmon does.
    async fn open(&self) -> Result<Client, String> {
        let sys = &self.monitor.system;
        let mut c = self.dial().connect().await?;
        c.username(&self.monitor.user)
            .await
            .map_err(|e| format!("USERNAME failed: {e}"))?;
        c.password(&self.monitor.password)
            .await
            .map_err(|e| format!("Set password failed: {e}"))?;
        match c.login(&self.monitor.ups).await {
            Ok(()) => tracing::info!("Logged into UPS {sys}"),
            Err(e) if !c.is_open() => return Err(format!("LOGIN failed: {e}")),
            Err(e) => tracing::error!("Login on UPS [{sys}] failed - got [{e}]"),
        }
        if self.monitor.role == Role::Primary {
            match c.primary(&self.monitor.ups).await {
                Ok(()) => {}
                Err(e) if !c.is_open() => return Err(format!("PRIMARY failed: {e}")),
                Err(e) => {
                    tracing::error!("Primary managerial privileges unavailable on UPS [{sys}]: {e}")
                }
            }
        }
        Ok(c)
    }

    async fn poll(&self, conn: &mut Option<Client>) -> PollResult {
        let sys = &self.monitor.system;
        if conn.as_ref().is_none_or(|c| !c.is_open()) {
            *conn = None;
            match self.open().await {
                Ok(c) => *conn = Some(c),
                Err(e) => {
                    tracing::warn!("UPS [{sys}]: {e}");
                    return PollResult::CommLost;
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            return PollResult::CommLost;
        };
        match c.get_var(&self.monitor.ups, "ups.status").await {
            Ok(status) if !status.trim().is_empty() => {
                let alarm = if has_word(&status, "ALARM") {
                    // as NUT: a driver without ups.alarm gives "n/a" in the ALARM notice
                    match c.get_var(&self.monitor.ups, "ups.alarm").await {
                        Ok(text) => Some(text),
                        Err(e) => {
                            tracing::debug!("UPS [{sys}]: no ups.alarm: {e}");
                            None
                        }
                    }
                } else {
                    None
                };
                let battery = self.battery(c, &status).await;
                PollResult::Status {
                    status,
                    alarm,
                    battery,
                }
            }
            Ok(_) => PollResult::CommLost,
            Err(e) => {
                tracing::warn!("Poll UPS [{sys}] failed - {e}");
                let r = match e.code() {
                    Some(ErrCode::DataStale) => PollResult::DataStale,
                    Some(ErrCode::DriverNotConnected) => PollResult::DriverNotConnected,
                    _ => PollResult::CommLost,
                };
                if !c.is_open() {
                    *conn = None;
                }
                r
            }
        }
    }

    /// `battery.runtime` / `battery.charge` as [`BatteryReads`] says, only while on battery.
    async fn battery(&self, c: &mut Client, status: &str) -> Battery {
        let mut battery = Battery::default();
        if !has_word(status, "OB") {
            return battery;
        }
        let reads = *self.reads.borrow();
        for (wanted, var, slot) in [
            (reads.runtime, "battery.runtime", &mut battery.runtime),
            (reads.charge, "battery.charge", &mut battery.charge),
        ] {
            if !wanted {
                continue;
            }
            match c.get_var(&self.monitor.ups, var).await {
                Ok(v) => *slot = Battery::whole(&v),
                Err(e) => tracing::debug!("UPS [{}]: no {var}: {e}", self.monitor.system),
            }
        }
        battery
    }

    /// Carry out a command; true when it was an `FSD` upsd accepted.
    async fn command(&self, conn: &mut Option<Client>, cmd: Command) -> bool {
        let ups = &self.monitor.ups;
        match cmd {
            Command::Fsd(reply) => {
                let ok = match conn.as_mut() {
                    Some(c) => match c.fsd(ups).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!("FSD set on UPS [{}] failed: {e}", self.monitor.system);
                            false
                        }
                    },
                    None => false,
                };
                let _ = reply.send(ok);
                return ok;
            }
            Command::NumLogins(reply) => {
                let n = match conn.as_mut() {
                    Some(c) => c.get_numlogins(ups).await.ok(),
                    None => None,
                };
                let _ = reply.send(n);
            }
            Command::Status(reply) => {
                let status = match conn.as_mut() {
                    Some(c) => c.get_var(ups, "ups.status").await.ok(),
                    None => None,
                };
                let _ = reply.send(status);
            }
            Command::ClearFsd(reply) => {
                let result = match conn.as_mut() {
                    Some(c) => match c.clear_fsd(ups).await {
                        Ok(()) => ClearResult::Cleared,
                        Err(e) if e.code() == Some(ErrCode::UnknownCommand) => {
                            ClearResult::Unsupported
                        }
                        Err(e) => ClearResult::Refused(e.to_string()),
                    },
                    None => ClearResult::Refused("not connected".into()),
                };
                let _ = reply.send(result);
            }
            Command::Logout(reply) => {
                if let Some(mut c) = conn.take() {
                    if let Err(e) = c.logout().await {
                        tracing::debug!("LOGOUT on UPS [{}]: {e}", self.monitor.system);
                    }
                }
                let _ = reply.send(());
            }
        }
        false
    }

    /// Poll until the daemon ends the session.
    pub(crate) async fn run(mut self) {
        let mut conn: Option<Client> = None;
        // The status watch (nut-rs's upsd): started with each new poll connection unless
        // one runs, so a upsd that gained WATCH since is watched after a reconnect.
        // A pushed status wakes a poll only when it is news: not the status last polled, nor
        // that status with the FSD this session has just set.
        let (push_tx, mut pushed) = watch::channel::<Option<String>>(None);
        let mut watching: Option<AbortOnDrop> = None;
        loop {
            if *self.poll_interval.borrow() == STOP_POLLING {
                // shutting down: keep the session open, answer commands, poll no more
                while let Some(cmd) = self.commands.recv().await {
                    self.command(&mut conn, cmd).await;
                }
                return;
            }
            let start = tokio::time::Instant::now();
            let started = start.into_std();
            let was_open = conn.is_some();
            let result = self.poll(&mut conn).await;
            let mut known = match &result {
                PollResult::Status { status, .. } => Some(status.clone()),
                _ => None,
            };
            if !was_open && conn.is_some() && watching.as_ref().is_none_or(|w| w.0.is_finished()) {
                let task = self.dial().watch(push_tx.clone());
                watching = Some(AbortOnDrop(tokio::spawn(task)));
            }
            let report = Report {
                session: self.id,
                result,
                started,
            };
            if self.reports.send(report).is_err() {
                return;
            }
            let interval = *self.poll_interval.borrow_and_update();
            let sleep = tokio::time::sleep(interval);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    Ok(()) = pushed.changed() => {
                        let news = pushed.borrow_and_update().clone();
                        if news.is_none() || news != known {
                            tracing::debug!("UPS [{}]: status pushed: {news:?}", self.monitor.system);
                            tokio::time::sleep_until(start + PUSH_GAP).await;
                            break;
                        }
                    }
                    cmd = self.commands.recv() => match cmd {
                        Some(cmd) => {
                            if self.command(&mut conn, cmd).await {
                                known = known.map(|k| {
                                    if k.starts_with("FSD") { k } else { format!("FSD {k}") }
                                });
                            }
                        }
                        None => return,
                    },
                    changed = self.poll_interval.changed() => {
                        if changed.is_err() { return; }
                        let new = *self.poll_interval.borrow_and_update();
                        if new < interval || new == STOP_POLLING { break; }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::has_word;

    #[test]
    fn alarm_is_a_whole_word() {
        assert!(has_word("ALARM OL", "ALARM"));
        assert!(has_word("OB alarm LB", "ALARM"));
        assert!(!has_word("OL CHRG", "ALARM"));
        assert!(!has_word("OL ALARMS", "ALARM"));
        assert!(has_word("OB DISCHRG", "OB"));
        assert!(!has_word("OL BOOST", "OB"));
    }
}
