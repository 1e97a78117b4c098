//! The I/O around [`Core`], on the driver's one thread: a poll(2) loop over the driver
//! socket's listener and every connection (non-blocking, no thread per connection), the poll
//! schedule with device events, stale handling and reconnect back-off, and signals.
//!
//! Every queue is bounded. A connection's requests are read [`READ_CHUNK`] bytes at a time and
//! handled one line at a time, and only while less than [`HIGH_WATER`] of its output waits:
//! a client that does not read its replies stops being read (backpressure), so what it sends
//! stays in its own socket buffer. It is dropped, with one log line naming it and the reason,
//! when its socket has taken no byte for [`WRITE_DEADLINE`] or when broadcasts pile its queue
//! past [`MAX_QUEUED`] (stock NUT drops a connection on the first write that fails). A
//! failing `accept` (no file descriptors left) pauses accepting for a moment and is logged at
//! most once a minute; a listener that breaks ends the loop with [`Stop::Fatal`], so the
//! process exits non-zero and a supervisor notices.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::backend::{Backend, BackendError, EVENT_SLICE};
use crate::dstate::{Action, ConnId, Core, Output};

/// Bytes read from a connection at a time.
pub(crate) const READ_CHUNK: usize = 4096;

/// A connection is not read while this much of its output is still unsent: requests are
/// handled only as fast as their replies are taken.
pub(crate) const HIGH_WATER: usize = 64 << 10;

/// A connection whose unsent output grows beyond this (broadcasts to a client that does not
/// read) is dropped.
pub(crate) const MAX_QUEUED: usize = 256 << 10;

/// A connection whose socket takes no byte of its pending output for this long is dropped.
pub(crate) const WRITE_DEADLINE: Duration = Duration::from_secs(5);

/// How long accepting pauses after `accept` failed for lack of resources (EMFILE...).
const ACCEPT_PAUSE: Duration = Duration::from_millis(500);

/// A repeated failure of `accept` is logged at most this often.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(60);

/// Connections accepted per turn of the loop at most (the others wait in the backlog).
const ACCEPT_BATCH: usize = 64;

/// Longest reconnect back-off.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

static EXIT_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The write end of the pipe that wakes the loop on a signal (-1 before [`wake_pipe`]).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    EXIT_SIGNAL.store(sig, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) on a non-blocking pipe is async-signal-safe; the pipe is never
        // closed. A full pipe already holds a wake-up, so the result does not matter.
        unsafe {
            libc::write(fd, [1u8].as_ptr().cast(), 1);
        }
    }
}

/// The read end of the process's wake-up pipe, made on first use and never closed: a signal
/// handler writes a byte to it, so the loop's poll(2) wakes up at once.
fn wake_pipe() -> std::io::Result<&'static OwnedFd> {
    static PIPE: OnceLock<(OwnedFd, OwnedFd)> = OnceLock::new();
    if let Some((r, _)) = PIPE.get() {
        return Ok(r);
    }
    use nix::fcntl::OFlag;
    let (r, w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
    let (r, w) = PIPE.get_or_init(|| (r, w));
    WAKE_FD.store(w.as_raw_fd(), Ordering::SeqCst);
    Ok(r)
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
    // SAFETY: the handler only stores into atomics and writes to a pipe, which is
    // async-signal-safe.
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
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o007));
    let l = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let l = l?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(l)
}

/// Why [`run`] returned.
#[derive(Debug)]
pub(crate) enum Stop {
    /// A signal (its number).
    Signal(i32),
    /// `INSTCMD driver.exit`.
    Requested,
    /// The listening socket broke (or the loop could not wait on it): nobody can connect any
    /// more, so the driver must exit with an error.
    Fatal(std::io::Error),
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

/// Serve `listener` and poll `backend` until a signal, `driver.exit` or a broken listener.
pub(crate) fn run(
    core: &mut Core,
    backend: &mut dyn Backend,
    listener: UnixListener,
    cfg: LoopConfig<'_>,
) -> Stop {
    let wake = match listener.set_nonblocking(true).and_then(|()| wake_pipe()) {
        Ok(w) => w,
        Err(e) => return Stop::Fatal(e),
    };
    let mut sock = Sockets::new(listener);
    // the UPS has been read and the socket takes connections
    cfg.notifier.ready(cfg.ready_status);
    let mut poll = Poller::new(cfg.poll_interval);
    loop {
        cfg.notifier.watchdog_tick();
        if let Some(s) = exit_signal() {
            return Stop::Signal(s);
        }
        for a in core.take_actions() {
            match a {
                Action::Exit => {
                    sock.deliver(core);
                    sock.drain(Duration::from_secs(1));
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
        sock.deliver(core);
        sock.expire(core, now);
        // sleep until the next poll, write deadline or watchdog ping, or until a socket or a
        // signal needs us
        let mut wait = poll.next.saturating_duration_since(now);
        if let Some(t) = sock.next_deadline() {
            wait = wait.min(t.saturating_duration_since(now));
        }
        if let Some(w) = cfg.notifier.watchdog_interval() {
            wait = wait.min(w / 2);
        }
        let events = backend.has_events() && !poll.disconnected;
        // a device fd is polled with the sockets: no wake-up until something happens
        let event_fd = events
            .then(|| backend.event_fd().map(|f| f.as_raw_fd()))
            .flatten();
        let sliced = events && event_fd.is_none();
        let (busy, device_ready) = match sock.turn(
            core,
            backend,
            wake,
            event_fd,
            if sliced { Duration::ZERO } else { wait },
        ) {
            Ok(r) => r,
            Err(e) => return Stop::Fatal(e),
        };
        if device_ready {
            sock.deliver(core);
            if let Err(e) = core.with_tree(|t| backend.wait_event(t, Duration::ZERO)) {
                poll.failed(core, e, Instant::now());
            }
        }
        if sliced {
            // the device's own wait: a short slice, or only a look when sockets are busy
            let slice = if busy {
                Duration::ZERO
            } else {
                wait.min(EVENT_SLICE)
            };
            sock.deliver(core);
            if let Err(e) = core.with_tree(|t| backend.wait_event(t, slice)) {
                poll.failed(core, e, Instant::now());
            }
        }
        sock.deliver(core);
    }
}

/// One connection of the driver socket.
struct Conn {
    stream: UnixStream,
    /// Who is on the other end, for the log (`pid 123, uid 0`).
    peer: String,
    /// Bytes read but not handled yet (only while too much output waits).
    input: Vec<u8>,
    /// Output not yet taken by the socket: `out[sent..]`.
    out: Vec<u8>,
    sent: usize,
    /// When the socket last took a byte, or output started waiting.
    progress: Instant,
    /// `LOGOUT`: close once the output is written.
    closing: bool,
}

impl Conn {
    fn queued(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Whether to read more requests now.
    fn wants_input(&self) -> bool {
        !self.closing && self.input.is_empty() && self.queued() < HIGH_WATER
    }

    /// Write what the socket takes. `Err` when the peer is gone.
    fn write_some(&mut self, now: Instant) -> std::io::Result<()> {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    self.progress = now;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
            // a burst (a dump, broadcasts) leaves no large buffer behind
            if self.out.capacity() > HIGH_WATER {
                self.out.shrink_to(HIGH_WATER);
            }
        } else if self.sent >= HIGH_WATER {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }
}

/// `pid <pid>, uid <uid>` of a peer, from SO_PEERCRED.
fn peer_of(s: &UnixStream) -> String {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    match getsockopt(s, PeerCredentials) {
        Ok(c) => format!("pid {}, uid {}", c.pid(), c.uid()),
        Err(_) => "peer unknown".into(),
    }
}

/// `accept` failures that only mean "not now" (resources); anything else breaks the listener.
fn accept_can_wait(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EPERM)
    )
}

/// The listener and the connections.
struct Sockets {
    listener: UnixListener,
    conns: BTreeMap<ConnId, Conn>,
    next_id: ConnId,
    /// Accepting pauses until then after a resource failure.
    accept_paused: Option<Instant>,
    /// When an accept failure was last logged, and how many were not logged since.
    accept_logged: Option<Instant>,
    accept_unlogged: u64,
}

impl Sockets {
    fn new(listener: UnixListener) -> Sockets {
        Sockets {
            listener,
            conns: BTreeMap::new(),
            next_id: 1,
            accept_paused: None,
            accept_logged: None,
            accept_unlogged: 0,
        }
    }

    /// The earliest time something must happen without I/O: a write deadline, the end of an
    /// accept pause.
    fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter(|c| c.queued() > 0)
            .map(|c| c.progress + WRITE_DEADLINE)
            .chain(self.accept_paused)
            .min()
    }

    /// One wait of at most `timeout` on the listener, the connections, the wake-up pipe and
    /// the device's `event_fd` ([`Backend::event_fd`]), then what became ready: accept, read
    /// and handle requests, write. Returns whether any socket was ready and whether the device
    /// fd was (readable or hung up); `Err` when the listener is broken.
    fn turn(
        &mut self,
        core: &mut Core,
        backend: &mut dyn Backend,
        wake: &OwnedFd,
        event_fd: Option<std::os::fd::RawFd>,
        timeout: Duration,
    ) -> std::io::Result<(bool, bool)> {
        let now = Instant::now();
        if self.accept_paused.is_some_and(|t| now >= t) {
            self.accept_paused = None;
        }
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        let ready: Vec<PollFlags> = {
            let mut fds = Vec::with_capacity(ids.len() + 2);
            fds.push(PollFd::new(wake.as_fd(), PollFlags::POLLIN));
            let listen = if self.accept_paused.is_some() {
                PollFlags::empty()
            } else {
                PollFlags::POLLIN
            };
            fds.push(PollFd::new(self.listener.as_fd(), listen));
            for c in self.conns.values() {
                let mut f = PollFlags::empty();
                if c.wants_input() {
                    f |= PollFlags::POLLIN;
                }
                if c.queued() > 0 {
                    f |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(c.stream.as_fd(), f));
            }
            if let Some(fd) = event_fd {
                // SAFETY: the backend owns this open fd and is not called between handing it
                // out (`Backend::event_fd`) and the end of this poll, so it stays open for
                // the borrow's whole life.
                let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            let ms = timeout.as_micros().div_ceil(1000).min(u128::from(u16::MAX));
            let ms = u16::try_from(ms).unwrap_or(u16::MAX);
            match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => return Ok((false, false)),
                Err(e) => return Err(e.into()),
            }
            fds.iter()
                .map(|f| f.revents().unwrap_or(PollFlags::empty()))
                .collect()
        };
        let mut ready = ready;
        let device_ready = event_fd.is_some() && ready.pop().is_some_and(|r| !r.is_empty());
        let mut busy = false;
        if !ready[0].is_empty() {
            let mut buf = [0u8; 64];
            while nix::unistd::read(wake, &mut buf).is_ok_and(|n| n > 0) {}
        }
        let broken = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
        if ready[1].intersects(broken) {
            return Err(std::io::Error::other(format!(
                "the listening socket failed (poll: {:?})",
                ready[1]
            )));
        }
        if ready[1].contains(PollFlags::POLLIN) {
            busy = true;
            self.accept(core, now)?;
        }
        for (id, r) in ids.into_iter().zip(&ready[2..]) {
            if r.is_empty() {
                continue;
            }
            busy = true;
            if r.intersects(PollFlags::POLLOUT | broken) {
                self.write(core, id, now);
            }
            if r.intersects(PollFlags::POLLIN | broken) {
                self.read(core, backend, id);
            }
            self.pump(core, backend, id);
            // a hang-up nothing above resolved must not wake every turn
            if r.intersects(broken) && self.conns.get(&id).is_some_and(|c| !c.wants_input()) {
                self.close(core, id, "hung up");
            }
        }
        Ok((busy, device_ready))
    }

    /// Accept what waits (a batch at most).
    fn accept(&mut self, core: &mut Core, now: Instant) -> std::io::Result<()> {
        for _ in 0..ACCEPT_BATCH {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue
                }
                Err(e) if accept_can_wait(&e) => {
                    self.accept_paused = Some(now + ACCEPT_PAUSE);
                    if self
                        .accept_logged
                        .is_none_or(|t| now.saturating_duration_since(t) >= ACCEPT_LOG_EVERY)
                    {
                        let more = match std::mem::take(&mut self.accept_unlogged) {
                            0 => String::new(),
                            n => format!(" ({n} more failures since the last report)"),
                        };
                        tracing::warn!(
                            "accept on the driver socket: {e}{more}; retrying every {} ms, \
                             reported at most once a minute",
                            ACCEPT_PAUSE.as_millis()
                        );
                        self.accept_logged = Some(now);
                    } else {
                        self.accept_unlogged += 1;
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            if let Err(e) = stream.set_nonblocking(true) {
                tracing::warn!("new connection on the driver socket: {e}; closed");
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            let peer = peer_of(&stream);
            tracing::debug!("new connection {id} ({peer})");
            self.conns.insert(
                id,
                Conn {
                    stream,
                    peer,
                    input: Vec::new(),
                    out: Vec::new(),
                    sent: 0,
                    progress: now,
                    closing: false,
                },
            );
            core.open(id);
        }
        Ok(())
    }

    /// Read one chunk from `id`; end of file or an error closes it.
    fn read(&mut self, core: &mut Core, backend: &mut dyn Backend, id: ConnId) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if !c.wants_input() {
            // only the hang-up matters now; what it sent waits in the socket
            return;
        }
        let mut buf = [0u8; READ_CHUNK];
        match c.stream.read(&mut buf) {
            Ok(0) => {
                // the peer is done sending: it still gets what is queued, then the close
                c.closing = true;
                self.write(core, id, Instant::now());
            }
            Ok(n) => {
                c.input.extend_from_slice(&buf[..n]);
                self.pump(core, backend, id);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => self.close(core, id, &format!("read: {e}")),
        }
    }

    /// Handle the complete lines read from `id`, one at a time, while its output is below
    /// [`HIGH_WATER`].
    fn pump(&mut self, core: &mut Core, backend: &mut dyn Backend, id: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            if c.input.is_empty() || c.closing || c.queued() >= HIGH_WATER {
                return;
            }
            let end = c
                .input
                .iter()
                .position(|&b| b == b'\n')
                .map_or(c.input.len(), |i| i + 1);
            let line: Vec<u8> = c.input.drain(..end).collect();
            core.feed(id, &line, backend);
            self.deliver(core);
        }
    }

    /// Queue the core's output on the connections and write what their sockets take.
    fn deliver(&mut self, core: &mut Core) {
        let now = Instant::now();
        for o in core.take_output() {
            match o {
                Output::Send(id, bytes) => {
                    let Some(c) = self.conns.get_mut(&id) else {
                        continue;
                    };
                    if c.queued() == 0 {
                        c.progress = now;
                    }
                    c.out.extend_from_slice(&bytes);
                    if c.queued() > MAX_QUEUED {
                        let why = format!(
                            "more than {} KiB of output waiting for it",
                            MAX_QUEUED >> 10
                        );
                        self.drop_reader(core, id, &why);
                        continue;
                    }
                    self.write(core, id, now);
                }
                Output::Close(id) => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.closing = true;
                    }
                    self.write(core, id, now);
                }
            }
        }
    }

    /// Write what `id`'s socket takes; close it when it is done after `LOGOUT`, or when the
    /// peer is gone.
    fn write(&mut self, core: &mut Core, id: ConnId, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        match c.write_some(now) {
            Ok(()) if c.closing && c.queued() == 0 => self.close(core, id, "done"),
            Ok(()) => {}
            Err(e) => self.close(core, id, &format!("write: {e}")),
        }
    }

    /// Drop the connections whose socket took nothing for [`WRITE_DEADLINE`].
    fn expire(&mut self, core: &mut Core, now: Instant) {
        let late: Vec<(ConnId, usize)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.queued() > 0 && now.duration_since(c.progress) >= WRITE_DEADLINE)
            .map(|(&id, c)| (id, c.queued()))
            .collect();
        for (id, q) in late {
            let why = format!(
                "nothing taken for {} s, {} KiB waiting",
                WRITE_DEADLINE.as_secs(),
                q.div_ceil(1024)
            );
            self.drop_reader(core, id, &why);
        }
    }

    /// Drop a connection that does not read: the one log line a drop gets.
    fn drop_reader(&mut self, core: &mut Core, id: ConnId, why: &str) {
        if let Some(c) = self.conns.get(&id) {
            tracing::warn!(
                "dropping connection {id} ({}): it does not read its replies ({why})",
                c.peer
            );
        }
        self.close(core, id, why);
    }

    fn close(&mut self, core: &mut Core, id: ConnId, why: &str) {
        if let Some(c) = self.conns.remove(&id) {
            tracing::debug!("connection {id} ({}) closed: {why}", c.peer);
            let _ = c.stream.shutdown(Shutdown::Both);
        }
        core.close(id);
    }

    /// Give the sockets up to `limit` to take what is queued (the reply to `driver.exit`).
    fn drain(&mut self, limit: Duration) {
        let t0 = Instant::now();
        loop {
            let now = Instant::now();
            for c in self.conns.values_mut() {
                if c.write_some(now).is_err() {
                    c.out.clear();
                    c.sent = 0;
                }
            }
            let left = limit.saturating_sub(t0.elapsed());
            let mut fds: Vec<PollFd<'_>> = self
                .conns
                .values()
                .filter(|c| c.queued() > 0)
                .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLOUT))
                .collect();
            if fds.is_empty() || left.is_zero() {
                return;
            }
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let _ = nix::poll::poll(&mut fds, PollTimeout::from(ms));
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
        /// The read end of a pipe standing for a device node: a byte in it is an event.
        event_rx: Option<OwnedFd>,
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
        fn event_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
            self.event_rx.as_ref().map(|f| f.as_fd())
        }
        fn wait_event(&mut self, tree: &mut Tree, timeout: Duration) -> Result<bool, BackendError> {
            self.calls.push("wait_event".into());
            if let Some(rx) = &self.event_rx {
                assert_eq!(timeout, Duration::ZERO, "only called when the fd is ready");
                let mut b = [0u8; 1];
                if nix::unistd::read(rx, &mut b) == Ok(1) {
                    self.status = "OB";
                    tree.set_info("ups.status", "OB");
                    return Ok(true);
                }
                return Ok(false);
            }
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

    /// [`run`] with a poll interval of a minute and no systemd.
    fn run_polling_each_minute(core: &mut Core, b: &mut Flaky, listener: UnixListener) -> Stop {
        let mut reload = |_: &mut Core| Duration::from_secs(60);
        run(
            core,
            b,
            listener,
            LoopConfig {
                poll_interval: Duration::from_secs(60),
                on_reload: &mut reload,
                notifier: &mut nut_daemon::Notifier::default(),
                ready_status: "",
            },
        )
    }

    /// A client of the driver socket at `path` that has read the whole dump.
    fn dumped_client(path: &Path) -> UnixStream {
        let mut c = UnixStream::connect(path).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"DUMPALL\n").unwrap();
        read_until(&mut c, &mut String::new(), "DUMPDONE\n");
        c
    }

    /// Read from `c` into `got` until it holds `want`.
    fn read_until(c: &mut UnixStream, got: &mut String, want: &str) {
        let mut buf = [0u8; 1024];
        while !got.contains(want) {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed; got {got}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
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
            run_polling_each_minute(&mut core, &mut b, listener)
        });
        let (mut c, mut got) = (dumped_client(&path), String::new());
        // the poll interval is a minute: only the event path can deliver this quickly
        let t0 = Instant::now();
        c.write_all(b"INSTCMD go.ob\n").unwrap();
        read_until(&mut c, &mut got, "SETINFO ups.status \"OB\"\n");
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        c.write_all(b"INSTCMD driver.exit TRACKING bye\n").unwrap();
        read_until(&mut c, &mut got, "TRACKING bye 0\n");
        let stop = server.join().unwrap();
        assert!(matches!(stop, Stop::Requested), "{stop:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_idle_loop_waits_on_the_device_fd_and_wakes_at_once_for_an_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usbhid-ups-fd");
        let listener = bind(&path).unwrap();
        let mut tree = Tree::new();
        tree.set_info("ups.status", "OL");
        let mut core = Core::new(tree, 1, 0);
        core.set_stale(false);
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK).unwrap();
        let server = std::thread::spawn(move || {
            let mut b = Flaky {
                status: "OL",
                events: true,
                event_rx: Some(rx),
                ..Flaky::default()
            };
            let stop = run_polling_each_minute(&mut core, &mut b, listener);
            (stop, b.calls)
        });
        let (mut c, mut got) = (dumped_client(&path), String::new());
        // idle for half a second: sliced waits would have called wait_event about 5 times
        std::thread::sleep(Duration::from_millis(500));
        let t0 = Instant::now();
        nix::unistd::write(&tx, b"!").unwrap();
        read_until(&mut c, &mut got, "SETINFO ups.status \"OB\"\n");
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        c.write_all(b"INSTCMD driver.exit TRACKING bye\n").unwrap();
        read_until(&mut c, &mut got, "TRACKING bye 0\n");
        let (stop, calls) = server.join().unwrap();
        assert!(matches!(stop, Stop::Requested), "{stop:?}");
        assert_eq!(
            calls,
            ["wait_event"],
            "the device is read once, for its one event"
        );
    }

    #[test]
    fn a_broken_listener_ends_the_loop_with_an_error() {
        // a connected socket whose peer is gone in place of a listener: poll reports a
        // hang-up on it, as on a listener that died
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let listener = UnixListener::from(OwnedFd::from(a));
        let mut core = Core::new(Tree::new(), 1, 0);
        let t0 = Instant::now();
        let stop = run_polling_each_minute(&mut core, &mut Flaky::default(), listener);
        let Stop::Fatal(e) = stop else {
            panic!("{stop:?}")
        };
        assert!(
            e.to_string().starts_with("the listening socket failed"),
            "{e}"
        );
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }
}
