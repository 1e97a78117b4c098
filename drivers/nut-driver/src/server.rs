//! The I/O around [`Core`]: the driver socket (one reader and one writer thread per
//! connection, each writer with its own queue, so a slow reader never blocks the poll loop),
//! the poll loop with device events, stale handling and reconnect back-off, and signals.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{Backend, BackendError, EVENT_SLICE};
use crate::dstate::{Action, ConnId, Core, Output};

/// A connection whose unsent output grows beyond this is dropped (stock drops a connection
/// whose socket buffer is full).
pub(crate) const MAX_QUEUED: usize = 4 << 20;

/// Longest reconnect back-off.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

static EXIT_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    EXIT_SIGNAL.store(sig, Ordering::SeqCst);
}

/// Exit cleanly on SIGTERM, SIGINT and SIGQUIT; ignore SIGHUP and SIGPIPE (as stock drivers).
pub(crate) fn setup_signals() -> nix::Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let exit = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
    unsafe {
        for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGQUIT] {
            sigaction(s, &exit)?;
        }
        for s in [Signal::SIGHUP, Signal::SIGPIPE] {
            sigaction(s, &ignore)?;
        }
    }
    Ok(())
}

/// The signal that asked us to exit, if any.
pub(crate) fn exit_signal() -> Option<i32> {
    match EXIT_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Create the driver socket as stock does: remove a stale file, umask 007, bind, chmod 0660.
pub(crate) fn bind(path: &Path) -> std::io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o007));
    let l = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let l = l?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(l)
}

enum Event {
    Open(ConnId, Handle),
    Data(ConnId, Vec<u8>),
    Closed(ConnId),
}

enum WriterMsg {
    Bytes(Vec<u8>),
    Close,
}

struct Handle {
    tx: Sender<WriterMsg>,
    stream: UnixStream,
    queued: Arc<AtomicUsize>,
}

fn spawn_acceptor(listener: UnixListener, events: Sender<Event>) {
    std::thread::spawn(move || {
        let mut next: ConnId = 1;
        for s in listener.incoming() {
            let stream = match s {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept on driver socket: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let id = next;
            next += 1;
            let (Ok(reader), Ok(writer)) = (stream.try_clone(), stream.try_clone()) else {
                continue;
            };
            let (tx, rx) = mpsc::channel();
            let queued = Arc::new(AtomicUsize::new(0));
            spawn_writer(writer, rx, queued.clone());
            if events
                .send(Event::Open(id, Handle { tx, stream, queued }))
                .is_err()
            {
                return;
            }
            let ev = events.clone();
            std::thread::spawn(move || read_loop(id, reader, ev));
        }
    });
}

fn read_loop(id: ConnId, mut s: UnixStream, events: Sender<Event>) {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if events.send(Event::Data(id, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
    let _ = events.send(Event::Closed(id));
}

fn spawn_writer(mut s: UnixStream, rx: Receiver<WriterMsg>, queued: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        for m in rx {
            match m {
                WriterMsg::Bytes(b) => {
                    let n = b.len();
                    let r = s.write_all(&b);
                    queued.fetch_sub(n, Ordering::SeqCst);
                    if r.is_err() {
                        let _ = s.shutdown(Shutdown::Both);
                        return;
                    }
                }
                WriterMsg::Close => {
                    let _ = s.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
    });
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A signal (its number).
    Signal(i32),
    /// `INSTCMD driver.exit`.
    Requested,
}

/// What the loop needs to know besides the core and the backend.
pub(crate) struct LoopConfig<'a> {
    /// Time between polls.
    pub(crate) poll_interval: Duration,
    /// Called for `driver.reload*`; may change the tree through the core and returns the new
    /// poll interval.
    pub(crate) on_reload: &'a mut dyn FnMut(&mut Core) -> Duration,
    /// systemd: `RELOADING=1`/`READY=1` around a reload, the watchdog pinged from the loop.
    pub(crate) notifier: &'a mut nut_daemon::Notifier,
    /// The `STATUS=` that goes with `READY=1`.
    pub(crate) ready_status: &'a str,
}

/// Serve `listener` and poll `backend` until a signal or `driver.exit`.
pub(crate) fn run(
    core: &mut Core,
    backend: &mut dyn Backend,
    listener: UnixListener,
    cfg: LoopConfig<'_>,
) -> Stop {
    let (etx, erx) = mpsc::channel();
    spawn_acceptor(listener, etx);
    // the UPS has been read and the socket takes connections
    cfg.notifier.ready(cfg.ready_status);
    let mut conns: HashMap<ConnId, Handle> = HashMap::new();
    let mut poll = Poller::new(cfg.poll_interval);
    loop {
        cfg.notifier.watchdog_tick();
        if let Some(s) = exit_signal() {
            return Stop::Signal(s);
        }
        for a in core.take_actions() {
            match a {
                Action::Exit => {
                    flush(core, &mut conns);
                    drain(&conns, Duration::from_secs(1));
                    return Stop::Requested;
                }
                Action::Reload => {
                    tracing::info!("reloading the configuration");
                    cfg.notifier.reloading();
                    poll.interval = (cfg.on_reload)(core);
                    cfg.notifier.ready(cfg.ready_status);
                }
            }
        }
        let now = Instant::now();
        if now >= poll.next {
            poll.poll(core, backend, now);
        }
        flush(core, &mut conns);
        let wait = poll
            .next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(250));
        if backend.has_events() && !poll.disconnected {
            while let Ok(ev) = erx.try_recv() {
                handle(core, backend, &mut conns, ev);
            }
            flush(core, &mut conns);
            match core.with_tree(|t| backend.wait_event(t, wait.min(EVENT_SLICE))) {
                Ok(_) => {}
                Err(e) => poll.failed(core, e, Instant::now()),
            }
        } else {
            match erx.recv_timeout(wait) {
                Ok(ev) => handle(core, backend, &mut conns, ev),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
            }
            while let Ok(ev) = erx.try_recv() {
                handle(core, backend, &mut conns, ev);
            }
        }
        flush(core, &mut conns);
    }
}

fn handle(
    core: &mut Core,
    backend: &mut dyn Backend,
    conns: &mut HashMap<ConnId, Handle>,
    ev: Event,
) {
    match ev {
        Event::Open(id, h) => {
            tracing::debug!("new connection {id}");
            conns.insert(id, h);
            core.open(id);
        }
        Event::Data(id, bytes) => core.feed(id, &bytes, backend),
        Event::Closed(id) => {
            tracing::debug!("connection {id} closed");
            core.close(id);
            conns.remove(&id);
        }
    }
}

/// Give the writers up to `limit` to send what is queued (the reply to `driver.exit`).
fn drain(conns: &HashMap<ConnId, Handle>, limit: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < limit && conns.values().any(|h| h.queued.load(Ordering::SeqCst) > 0) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn flush(core: &mut Core, conns: &mut HashMap<ConnId, Handle>) {
    for o in core.take_output() {
        match o {
            Output::Send(id, bytes) => {
                let Some(h) = conns.get(&id) else { continue };
                let q = h.queued.fetch_add(bytes.len(), Ordering::SeqCst) + bytes.len();
                if q > MAX_QUEUED || h.tx.send(WriterMsg::Bytes(bytes)).is_err() {
                    tracing::warn!("dropping connection {id}: it does not read its replies");
                    let _ = h.stream.shutdown(Shutdown::Both);
                    conns.remove(&id);
                    core.close(id);
                }
            }
            Output::Close(id) => {
                if let Some(h) = conns.get(&id) {
                    let _ = h.tx.send(WriterMsg::Close);
                }
            }
        }
    }
}

/// Poll schedule, stale state and reconnect back-off.
struct Poller {
    interval: Duration,
    next: Instant,
    disconnected: bool,
    backoff: Duration,
    retry_at: Instant,
}

impl Poller {
    fn new(interval: Duration) -> Poller {
        let now = Instant::now();
        Poller {
            interval,
            next: now + interval,
            disconnected: false,
            backoff: Duration::from_secs(1),
            retry_at: now,
        }
    }

    fn poll(&mut self, core: &mut Core, backend: &mut dyn Backend, now: Instant) {
        self.next = now + self.interval;
        if self.disconnected {
            if now < self.retry_at {
                self.next = self.retry_at;
                return;
            }
            match core.with_tree(|t| backend.reconnect(t)) {
                Ok(()) => {
                    tracing::info!("device reconnected");
                    self.disconnected = false;
                    self.backoff = Duration::from_secs(1);
                }
                Err(e) => {
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    self.retry_at = now + self.backoff;
                    self.next = self.retry_at;
                    tracing::debug!("reconnect failed ({e}); next try in {:?}", self.backoff);
                    return;
                }
            }
        }
        match core.with_tree(|t| backend.update(t, now)) {
            Ok(()) => core.set_stale(false),
            Err(e) => self.failed(core, e, now),
        }
    }

    fn failed(&mut self, core: &mut Core, e: BackendError, now: Instant) {
        core.set_stale(true);
        match e {
            BackendError::Stale(m) => tracing::warn!("data stale: {m}"),
            BackendError::Disconnected(m) | BackendError::Fatal(m) => {
                if !self.disconnected {
                    tracing::warn!("device lost: {m}; reconnecting");
                }
                self.disconnected = true;
                self.backoff = Duration::from_secs(1);
                self.retry_at = now + self.backoff;
                self.next = self.retry_at;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CmdResult;
    use crate::config::DriverConfig;
    use nut_state::Tree;

    /// A backend whose next results are scripted.
    #[derive(Default)]
    struct Flaky {
        updates: Vec<Result<(), BackendError>>,
        reconnects: Vec<Result<(), BackendError>>,
        calls: Vec<String>,
        status: &'static str,
        events: bool,
    }

    impl Backend for Flaky {
        fn init(&mut self, _: &mut Tree, _: &DriverConfig) -> Result<(), BackendError> {
            Ok(())
        }
        fn update(&mut self, tree: &mut Tree, _: Instant) -> Result<(), BackendError> {
            self.calls.push("update".into());
            tree.set_info("ups.status", self.status);
            if self.updates.is_empty() {
                Ok(())
            } else {
                self.updates.remove(0)
            }
        }
        fn reconnect(&mut self, _: &mut Tree) -> Result<(), BackendError> {
            self.calls.push("reconnect".into());
            if self.reconnects.is_empty() {
                Ok(())
            } else {
                self.reconnects.remove(0)
            }
        }
        fn has_events(&self) -> bool {
            self.events
        }
        fn wait_event(&mut self, tree: &mut Tree, timeout: Duration) -> Result<bool, BackendError> {
            std::thread::sleep(timeout.min(Duration::from_millis(10)));
            if self.status == "OB" {
                tree.set_info("ups.status", "OB");
                return Ok(true);
            }
            Ok(false)
        }
        fn instcmd(&mut self, _: &mut Tree, cmd: &str, _: Option<&str>) -> CmdResult {
            if cmd == "go.ob" {
                self.status = "OB";
                CmdResult::Handled
            } else {
                CmdResult::Unknown
            }
        }
        fn setvar(&mut self, _: &mut Tree, _: &str, _: &str) -> CmdResult {
            CmdResult::Unknown
        }
        fn shutdown(&mut self, _: &mut Tree) -> Result<(), BackendError> {
            Ok(())
        }
    }

    fn sent(core: &mut Core) -> String {
        core.take_output()
            .into_iter()
            .map(|o| match o {
                Output::Send(_, b) => String::from_utf8(b).unwrap(),
                Output::Close(_) => "<close>".into(),
            })
            .collect()
    }

    #[test]
    fn stale_reconnect_backoff_and_recovery() {
        let mut core = Core::new(Tree::new(), 1, 0);
        core.set_stale(false);
        core.open(1);
        let mut b = Flaky {
            status: "OL",
            updates: vec![
                Ok(()),
                Err(BackendError::Stale("timeout".into())),
                Ok(()),
                Err(BackendError::Disconnected("gone".into())),
            ],
            reconnects: vec![
                Err(BackendError::Disconnected("still gone".into())),
                Err(BackendError::Disconnected("still gone".into())),
            ],
            ..Flaky::default()
        };
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut p = Poller::new(Duration::from_secs(2));
        p.poll(&mut core, &mut b, t0);
        assert_eq!(sent(&mut core), "SETINFO ups.status \"OL\"\n");
        p.poll(&mut core, &mut b, t0 + 2 * s);
        assert_eq!(sent(&mut core), "DATASTALE\n", "a stale read");
        p.poll(&mut core, &mut b, t0 + 4 * s);
        assert_eq!(sent(&mut core), "DATAOK\n", "next good read");
        p.poll(&mut core, &mut b, t0 + 6 * s);
        assert_eq!(sent(&mut core), "DATASTALE\n", "device lost");
        assert_eq!(p.next, t0 + 7 * s, "first retry after 1 s");
        p.poll(&mut core, &mut b, t0 + 7 * s);
        assert_eq!(p.next, t0 + 9 * s, "then 2 s");
        p.poll(&mut core, &mut b, t0 + 9 * s);
        assert_eq!(p.next, t0 + 13 * s, "then 4 s");
        p.poll(&mut core, &mut b, t0 + 10 * s);
        assert_eq!(
            b.calls.iter().filter(|c| *c == "reconnect").count(),
            2,
            "not before its time"
        );
        b.status = "OB";
        p.poll(&mut core, &mut b, t0 + 13 * s);
        assert_eq!(sent(&mut core), "SETINFO ups.status \"OB\"\nDATAOK\n");
        assert_eq!(
            b.calls,
            [
                "update",
                "update",
                "update",
                "update",
                "reconnect",
                "reconnect",
                "reconnect",
                "update"
            ]
        );
        assert_eq!(p.next, t0 + 15 * s, "back to the poll interval");
    }

    #[test]
    fn device_events_reach_clients_between_polls() {
        let dir = std::env::temp_dir().join(format!("usbhid-ups-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("usbhid-ups-ev");
        let listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660);
        let mut tree = Tree::new();
        tree.set_info("ups.status", "OL");
        let mut core = Core::new(tree, 1, 0);
        core.set_stale(false);
        let server = std::thread::spawn(move || {
            let mut b = Flaky {
                status: "OL",
                events: true,
                ..Flaky::default()
            };
            let mut reload = |_: &mut Core| Duration::from_secs(60);
            run(
                &mut core,
                &mut b,
                listener,
                LoopConfig {
                    poll_interval: Duration::from_secs(60),
                    on_reload: &mut reload,
                    notifier: &mut nut_daemon::Notifier::default(),
                    ready_status: "",
                },
            )
        });
        let mut c = UnixStream::connect(&path).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = String::new();
        let mut read_until = |c: &mut UnixStream, want: &str| {
            let mut buf = [0u8; 1024];
            while !got.contains(want) {
                let n = c.read(&mut buf).unwrap();
                assert!(n > 0, "closed; got {got}");
                got.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        };
        c.write_all(b"DUMPALL\n").unwrap();
        read_until(&mut c, "DUMPDONE\n");
        // the poll interval is a minute: only the event path can deliver this quickly
        let t0 = Instant::now();
        c.write_all(b"INSTCMD go.ob\n").unwrap();
        read_until(&mut c, "SETINFO ups.status \"OB\"\n");
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        c.write_all(b"INSTCMD driver.exit TRACKING bye\n").unwrap();
        read_until(&mut c, "TRACKING bye 0\n");
        assert_eq!(server.join().unwrap(), Stop::Requested);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
