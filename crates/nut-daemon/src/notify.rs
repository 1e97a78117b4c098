//! The systemd notification protocol (`sd_notify(3)`) without libsystemd: one datagram of
//! `KEY=value` lines to the Unix socket named by `$NOTIFY_SOCKET` (a path, or an abstract
//! name written with a leading `@`). A daemon started by a `Type=notify` unit says when it is
//! ready ([`Notifier::ready`]), reloading ([`Notifier::reloading`], with the
//! `MONOTONIC_USEC` systemd wants) and stopping ([`Notifier::stopping`]), and pings the
//! watchdog from its main loop ([`Notifier::watchdog_tick`]) when `$WATCHDOG_USEC` is set for
//! this process. Without `$NOTIFY_SOCKET` nothing is sent.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// Where the notifications go and the watchdog's schedule. Cheap to clone; every message
/// is sent on a fresh unbound socket, as `sd_notify` does.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    /// The service manager's socket (`None`: not started by a `Type=notify` unit).
    addr: Option<SocketAddr>,
    /// Half of `WATCHDOG_USEC`, when the watchdog is for this process.
    ping_every: Option<Duration>,
    /// When the last `WATCHDOG=1` went out.
    last_ping: Option<Instant>,
}

/// The `NOTIFY_SOCKET` value as a socket address: `@name` is the abstract `name`, anything
/// else a path.
fn socket_addr(value: &OsStr) -> io::Result<SocketAddr> {
    let bytes = value.as_bytes();
    match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None => SocketAddr::from_pathname(std::path::Path::new(value)),
    }
}

/// `CLOCK_MONOTONIC` in microseconds (what `MONOTONIC_USEC` carries).
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

impl Notifier {
    /// From this process's environment: `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`.
    /// Build it before forking: the watchdog is checked against the PID of the caller.
    pub fn from_env() -> Notifier {
        let var = |k| std::env::var_os(k);
        let notifier = Notifier::from_vars(
            var("NOTIFY_SOCKET").as_deref(),
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
            std::process::id(),
        );
        if let (Some(v), None) = (var("NOTIFY_SOCKET"), &notifier.addr) {
            tracing::warn!("NOTIFY_SOCKET={v:?} is not a usable socket address: not notifying");
        }
        notifier
    }

    /// From the values of `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` for process
    /// `pid`. The watchdog is on when `WATCHDOG_USEC` is a positive number and `WATCHDOG_PID`
    /// is unset or `pid`.
    pub fn from_vars(
        notify_socket: Option<&OsStr>,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        pid: u32,
    ) -> Notifier {
        let addr = notify_socket
            .filter(|v| !v.is_empty())
            .and_then(|v| socket_addr(v).ok());
        let for_us = watchdog_pid
            .map(|p| p.to_str().and_then(|p| p.parse::<u32>().ok()) == Some(pid))
            .unwrap_or(true);
        let usec = watchdog_usec
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&u| u > 0);
        let ping_every = match (&addr, for_us, usec) {
            (Some(_), true, Some(u)) => Some(Duration::from_micros(u / 2)),
            _ => None,
        };
        Notifier {
            addr,
            ping_every,
            last_ping: None,
        }
    }

    /// Whether a service manager listens.
    pub fn enabled(&self) -> bool {
        self.addr.is_some()
    }

    /// How often [`Notifier::watchdog_tick`] pings (half of `WATCHDOG_USEC`), if the watchdog
    /// is on. A main loop must wake up at least this often.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.ping_every
    }

    /// Send `lines` (`KEY=value`, joined by newlines) as one datagram; nothing without a
    /// socket. A failure is logged once per call and otherwise ignored: the daemon runs on.
    pub fn send(&self, lines: &[&str]) {
        let Some(addr) = &self.addr else { return };
        let msg = lines.join("\n");
        let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(msg.as_bytes(), addr));
        if let Err(e) = sent {
            tracing::debug!("sd_notify {msg:?}: {e}");
        }
    }

    /// `READY=1`, with a `STATUS=` line.
    pub fn ready(&self, status: &str) {
        self.send(&["READY=1", &format!("STATUS={status}")]);
    }

    /// `RELOADING=1` and `MONOTONIC_USEC=` now, at the start of a reload (then
    /// [`Notifier::ready`] when done).
    pub fn reloading(&self) {
        let now = format!("MONOTONIC_USEC={}", monotonic_usec());
        self.send(&["RELOADING=1", &now, "STATUS=Reloading the configuration"]);
    }

    /// `STOPPING=1`, when the daemon begins to exit.
    pub fn stopping(&self) {
        self.send(&["STOPPING=1", "STATUS=Stopping"]);
    }

    /// A `STATUS=` line alone.
    pub fn status(&self, status: &str) {
        self.send(&[&format!("STATUS={status}")]);
    }

    /// Call from the main loop: sends `WATCHDOG=1` when the watchdog is on and half its
    /// timeout has passed since the last ping.
    pub fn watchdog_tick(&mut self) {
        self.watchdog_tick_at(Instant::now());
    }

    /// [`Notifier::watchdog_tick`] at a given time.
    fn watchdog_tick_at(&mut self, now: Instant) {
        let Some(every) = self.ping_every else { return };
        if self
            .last_ping
            .is_some_and(|t| now.saturating_duration_since(t) < every)
        {
            return;
        }
        self.last_ping = Some(now);
        self.send(&["WATCHDOG=1"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    /// A listening socket at a temporary path and the notifier for it.
    fn listener(watchdog: Option<&str>) -> (tempfile::TempDir, UnixDatagram, Notifier) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let n = Notifier::from_vars(Some(path.as_os_str()), watchdog.map(os), None, 42);
        (dir, sock, n)
    }

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn nothing_more(sock: &UnixDatagram) {
        sock.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        let r = sock.recv(&mut buf);
        assert_eq!(
            r.map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "no datagram expected"
        );
    }

    #[test]
    fn the_exact_datagrams() {
        let (_dir, sock, n) = listener(None);
        assert!(n.enabled());
        n.ready("Serving 1 UPS");
        assert_eq!(recv(&sock), "READY=1\nSTATUS=Serving 1 UPS");
        let before = monotonic_usec();
        n.reloading();
        let after = monotonic_usec();
        let msg = recv(&sock);
        let lines: Vec<&str> = msg.split('\n').collect();
        assert_eq!(lines.len(), 3, "{msg:?}");
        assert_eq!(lines[0], "RELOADING=1");
        let usec: u64 = lines[1]
            .strip_prefix("MONOTONIC_USEC=")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            before <= usec && usec <= after,
            "{before} <= {usec} <= {after}"
        );
        assert_eq!(lines[2], "STATUS=Reloading the configuration");
        n.status("Polling");
        assert_eq!(recv(&sock), "STATUS=Polling");
        n.stopping();
        assert_eq!(recv(&sock), "STOPPING=1\nSTATUS=Stopping");
        nothing_more(&sock);
    }

    #[test]
    fn abstract_socket_names() {
        let name = format!("nut-rs-notify-test-{}", std::process::id());
        let addr = {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
        };
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let value = format!("@{name}");
        let n = Notifier::from_vars(Some(os(&value)), None, None, 1);
        n.ready("up");
        assert_eq!(recv(&sock), "READY=1\nSTATUS=up");
    }

    #[test]
    fn silent_without_socket() {
        let n = Notifier::from_vars(None, Some(os("1000000")), None, 1);
        assert!(!n.enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.ready("x");
        let n = Notifier::from_vars(Some(os("")), None, None, 1);
        assert!(!n.enabled());
        // a path longer than sun_path cannot be an address
        let long = "/".to_string() + &"x".repeat(200);
        assert!(!Notifier::from_vars(Some(os(&long)), None, None, 1).enabled());
        assert!(socket_addr(OsStr::from_bytes(b"/run/systemd/notify")).is_ok());
    }

    #[test]
    fn watchdog_every_half_timeout_for_our_pid_only() {
        let (_dir, sock, mut n) = listener(Some("2000000"));
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(1)));
        let t0 = Instant::now();
        n.watchdog_tick_at(t0);
        assert_eq!(recv(&sock), "WATCHDOG=1");
        n.watchdog_tick_at(t0 + Duration::from_millis(999));
        nothing_more(&sock);
        sock.set_nonblocking(false).unwrap();
        n.watchdog_tick_at(t0 + Duration::from_secs(1));
        assert_eq!(recv(&sock), "WATCHDOG=1");

        let path = _dir.path().join("notify");
        let p = Some(path.as_os_str());
        let usec = Some(os("2000000"));
        let for_pid = |pid: &str| Notifier::from_vars(p, usec, Some(os(pid)), 42);
        assert_eq!(
            for_pid("42").watchdog_interval(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(for_pid("43").watchdog_interval(), None);
        assert_eq!(for_pid("x").watchdog_interval(), None);
        assert_eq!(
            Notifier::from_vars(p, Some(os("0")), None, 42).watchdog_interval(),
            None
        );
        assert_eq!(
            Notifier::from_vars(p, Some(os("soon")), None, 42).watchdog_interval(),
            None
        );
    }
}
