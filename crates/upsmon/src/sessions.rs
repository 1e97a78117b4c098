//! The daemon's seam to upsd: the sessions, one per `MONITOR` line. [`Sessions`] is what the
//! daemon asks of them (start one, end one, `FSD`, `NUMLOGINS`, the poll interval); [`Pool`]
//! does it with one [`Session`] task each, and the tests with a fake.

use std::time::{Duration, Instant};

use nut_conf::upsmon_conf::{Monitor, UpsmonConf};
use tokio::sync::{mpsc, oneshot, watch};

use crate::machine::{ClearResult, PollResult};
use crate::session::{BatteryReads, Command, Session, TlsPolicy, IO_TIMEOUT, STOP_POLLING};

/// Names one session; a session replaced on reload gets a new one, so a late report of the
/// old session is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionId(pub(crate) u64);

/// One poll's result.
#[derive(Debug)]
pub(crate) struct Report {
    /// The session that polled.
    pub(crate) session: SessionId,
    /// What the poll gave.
    pub(crate) result: PollResult,
    /// When the poll began (its reading may predate a `CLEARFSD`).
    pub(crate) started: Instant,
}

/// What the daemon asks of its sessions.
pub(crate) trait Sessions {
    /// Start polling the UPS of `monitor` (TLS as `conf` says); its reports carry the id.
    fn spawn(&mut self, monitor: &Monitor, conf: &UpsmonConf) -> SessionId;
    /// End a session and close its connection.
    fn end(&mut self, id: SessionId);
    /// `FSD <ups>` on the session's connection: whether upsd answered OK.
    async fn fsd(&mut self, id: SessionId) -> bool;
    /// `GET NUMLOGINS <ups>`; `None` when it failed.
    async fn numlogins(&mut self, id: SessionId) -> Option<u32>;
    /// `GET VAR <ups> ups.status` (during the HOSTSYNC wait); `None` when it failed.
    async fn status(&mut self, id: SessionId) -> Option<String>;
    /// `CLEARFSD <ups>` on the session's connection.
    async fn clear_fsd(&mut self, id: SessionId) -> ClearResult;
    /// Poll this often from now on.
    fn set_poll_interval(&mut self, every: Duration);
    /// Poll no more, but keep the connections and answer requests (the shutdown).
    fn stop_polling(&mut self);
    /// `LOGOUT` on the session's connection, which is not opened again.
    async fn logout(&mut self, _id: SessionId) {}
    /// Apply `conf`'s settings that live sessions read (the battery values to poll).
    fn configure(&mut self, _conf: &UpsmonConf) {}
}

/// The real sessions: a [`Session`] task each.
pub(crate) struct Pool {
    connect_timeout: Duration,
    /// What a new session reports to.
    reports: mpsc::UnboundedSender<Report>,
    poll_interval: watch::Sender<Duration>,
    /// The battery values the sessions read while on battery.
    reads: watch::Sender<BatteryReads>,
    /// The command channel of each live session; dropping one ends its session.
    live: Vec<(SessionId, mpsc::Sender<Command>)>,
    next: u64,
}

impl Pool {
    /// No sessions yet, polling every `poll_interval`; the receiver gets every report.
    pub(crate) fn new(
        connect_timeout: Duration,
        poll_interval: Duration,
    ) -> (Pool, mpsc::UnboundedReceiver<Report>) {
        // unbounded: a session must never block on a daemon busy waiting for the secondaries
        // (it would stop answering NUMLOGINS requests)
        let (reports, rx) = mpsc::unbounded_channel();
        let pool = Pool {
            connect_timeout,
            reports,
            poll_interval: watch::Sender::new(poll_interval),
            reads: watch::Sender::new(BatteryReads::default()),
            live: Vec::new(),
            next: 0,
        };
        (pool, rx)
    }

    /// Send a request to a session and wait (bounded) for its answer.
    async fn ask<T>(
        &self,
        id: SessionId,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Option<T> {
        let (_, tx) = self.live.iter().find(|(i, _)| *i == id)?;
        let (rtx, rrx) = oneshot::channel();
        tx.send(make(rtx)).await.ok()?;
        tokio::time::timeout(IO_TIMEOUT * 2, rrx).await.ok()?.ok()
    }
}

impl Sessions for Pool {
    fn spawn(&mut self, monitor: &Monitor, conf: &UpsmonConf) -> SessionId {
        let id = SessionId(self.next);
        self.next += 1;
        let (commands, cmd_rx) = mpsc::channel(8);
        let session = Session {
            id,
            monitor: monitor.clone(),
            tls: TlsPolicy::for_host(conf, &monitor.host),
            connect_timeout: self.connect_timeout,
            reports: self.reports.clone(),
            commands: cmd_rx,
            poll_interval: self.poll_interval.subscribe(),
            reads: self.reads.subscribe(),
        };
        tokio::spawn(session.run());
        self.live.push((id, commands));
        id
    }

    fn end(&mut self, id: SessionId) {
        self.live.retain(|(i, _)| *i != id);
    }

    async fn fsd(&mut self, id: SessionId) -> bool {
        self.ask(id, Command::Fsd).await.unwrap_or(false)
    }

    async fn numlogins(&mut self, id: SessionId) -> Option<u32> {
        self.ask(id, Command::NumLogins).await
    }

    async fn status(&mut self, id: SessionId) -> Option<String> {
        self.ask(id, Command::Status).await.flatten()
    }

    async fn clear_fsd(&mut self, id: SessionId) -> ClearResult {
        self.ask(id, Command::ClearFsd)
            .await
            .unwrap_or_else(|| ClearResult::Refused("no answer from the session".into()))
    }

    fn set_poll_interval(&mut self, every: Duration) {
        self.poll_interval.send_if_modified(|cur| {
            let changed = *cur != every;
            *cur = every;
            changed
        });
    }

    fn stop_polling(&mut self) {
        self.set_poll_interval(STOP_POLLING);
    }

    async fn logout(&mut self, id: SessionId) {
        let _ = self.ask(id, Command::Logout).await;
    }

    fn configure(&mut self, conf: &UpsmonConf) {
        self.reads.send_replace(BatteryReads::of(conf));
    }
}
