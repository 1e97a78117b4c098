//! systemd's side of `sd_notify` for the tests: a datagram socket whose path goes into a
//! daemon's `NOTIFY_SOCKET`, reading the messages in order. `WATCHDOG=1` pings are counted
//! apart, so a test can check both the sequence (READY, RELOADING, READY, STOPPING) and the
//! pings.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The notification socket of one test.
pub struct NotifySocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    sock: UnixDatagram,
    /// `WATCHDOG=1` datagrams seen so far.
    pub pings: usize,
}

impl Default for NotifySocket {
    fn default() -> Self {
        Self::new()
    }
}

impl NotifySocket {
    /// Bind a fresh socket in a temporary directory.
    pub fn new() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        NotifySocket {
            _dir: dir,
            path,
            sock,
            pings: 0,
        }
    }

    /// The value for `NOTIFY_SOCKET`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next datagram, pings included, within `timeout`.
    pub fn raw(&mut self, timeout: Duration) -> Option<String> {
        self.sock
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = self.sock.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// The next datagram that is not `WATCHDOG=1` (those are counted in [`Self::pings`]),
    /// within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<String> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match self.raw(left)? {
                m if m == "WATCHDOG=1" => self.pings += 1,
                m => return Some(m),
            }
        }
    }

    /// The next message (not a ping) within 10 s; panics with `context()` if none comes.
    pub fn expect(&mut self, what: &str, context: impl Fn() -> String) -> String {
        self.next(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no {what} from the daemon within 10 s\n{}", context()))
    }

    /// Count the pings during `d`; panics on any other message.
    pub fn pings_during(&mut self, d: Duration) -> usize {
        let before = self.pings;
        if let Some(m) = self.next(d) {
            panic!("only WATCHDOG=1 expected, got {m:?}");
        }
        self.pings - before
    }

    /// The watchdog pings of process `pid` (every `period`) follow its main loop: about
    /// `window / period` pings in `window` while it runs, none while it is stopped (SIGSTOP:
    /// what a hung loop looks like to systemd), and they come back after SIGCONT.
    pub fn assert_pings_follow_the_process(
        &mut self,
        pid: u32,
        period: Duration,
        window: Duration,
    ) {
        let expected = (window.as_millis() / period.as_millis()) as usize;
        let n = self.pings_during(window);
        assert!(
            (expected - 2..=expected + 2).contains(&n),
            "{n} pings in {window:?}, one every {period:?} expected"
        );
        crate::daemon::signal(pid, "STOP");
        std::thread::sleep(Duration::from_millis(100));
        while self.raw(Duration::from_millis(50)).is_some() {}
        assert_eq!(self.pings_during(window), 0, "pings from a stopped process");
        crate::daemon::signal(pid, "CONT");
        assert!(
            self.pings_during(window) >= expected - 2,
            "the pings did not come back after SIGCONT"
        );
    }

    /// Assert that `msg` is `RELOADING=1` with a `MONOTONIC_USEC` between `before` and
    /// `after` (both [`monotonic_usec`]) and the reload status line.
    pub fn assert_reloading(msg: &str, before: u64, after: u64) {
        let lines: Vec<&str> = msg.split('\n').collect();
        assert_eq!(lines.len(), 3, "{msg:?}");
        assert_eq!(lines[0], "RELOADING=1", "{msg:?}");
        let usec: u64 = lines[1]
            .strip_prefix("MONOTONIC_USEC=")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("MONOTONIC_USEC=<number> expected: {msg:?}"));
        assert!(
            before <= usec && usec <= after,
            "MONOTONIC_USEC {usec} not within the reload [{before}, {after}]"
        );
        assert_eq!(lines[2], "STATUS=Reloading the configuration", "{msg:?}");
    }
}

/// `CLOCK_MONOTONIC` now, in microseconds (the clock of `MONOTONIC_USEC`).
pub fn monotonic_usec() -> u64 {
    nut_daemon::notify::monotonic_usec()
}

/// The `STOPPING=1` message the daemons send.
pub const STOPPING: &str = "STOPPING=1\nSTATUS=Stopping";
