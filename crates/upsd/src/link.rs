//! The writing half of a driver link. Like stock upsd, a SET, INSTCMD or PING goes straight
//! to the driver's socket (a non-blocking write) from the request that makes it; only what the
//! socket does not take waits, at most [`LINK_QUEUE`] messages, for the link's writer
//! ([`DriverLink::drain`]). A message that finds the queue full is refused: SET and INSTCMD
//! answer as stock does when its write to the driver fails, and the log says so once per
//! link. A driver that takes none of the waiting bytes for [`LINK_WRITE_STALL`] loses the
//! link, which is then made again (stock drops it on the first write its socket refuses).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nut_state::UpsdMsg;
use tokio::sync::Notify;

/// How many messages may wait for a driver that is slow to read its socket.
pub(crate) const LINK_QUEUE: usize = 32;
/// A driver that takes none of the waiting bytes for this long loses the link.
pub(crate) const LINK_WRITE_STALL: Duration = Duration::from_secs(15);

/// The live link to a driver, as the UPS's state holds it (clones share it).
#[derive(Debug, Clone)]
pub(crate) struct DriverLink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The driver's socket, non-blocking.
    sock: UnixStream,
    waiting: Mutex<Waiting>,
    /// Wakes the writer when something starts to wait.
    wake: Notify,
}

/// The lines the socket did not take yet, oldest first.
#[derive(Debug, Default)]
struct Waiting {
    lines: VecDeque<Vec<u8>>,
    /// Bytes of the first line already written.
    written: usize,
    /// Whether the full queue was logged on this link.
    full_logged: bool,
    /// A write failed: the link is going away.
    broken: Option<io::ErrorKind>,
}

impl DriverLink {
    /// The link over `sock`, which must be non-blocking.
    pub(crate) fn new(sock: UnixStream) -> DriverLink {
        DriverLink {
            inner: Arc::new(Inner {
                sock,
                waiting: Mutex::new(Waiting::default()),
                wake: Notify::new(),
            }),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.inner.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Send `msg` to the driver of UPS `ups`: written now, or queued behind what waits.
    /// False when the link is broken or its queue is full (logged once per link).
    pub(crate) fn offer(&self, ups: &str, msg: &UpsdMsg) -> bool {
        let mut line = msg.to_line().into_bytes();
        line.push(b'\n');
        let mut w = self.waiting();
        if w.broken.is_some() {
            return false;
        }
        if w.lines.is_empty() {
            match (&self.inner.sock).write(&line) {
                Ok(n) if n == line.len() => return true,
                Ok(n) => w.written = n,
                Err(e) if is_retry(&e) => {}
                Err(e) => {
                    w.broken = Some(e.kind());
                    self.inner.wake.notify_one();
                    return false;
                }
            }
        } else if w.lines.len() >= LINK_QUEUE {
            if !std::mem::replace(&mut w.full_logged, true) {
                tracing::warn!(
                    "Send to UPS [{ups}] failed: its driver has not read the last {LINK_QUEUE} messages; SET and INSTCMD fail while it does not read (logged once per driver connection)"
                );
            }
            return false;
        }
        w.lines.push_back(line);
        self.inner.wake.notify_one();
        true
    }

    /// The link's writer: write what waits as the socket takes it, until a write fails or the
    /// driver takes nothing for [`LINK_WRITE_STALL`] (the error says which). Runs until
    /// dropped otherwise.
    pub(crate) async fn drain(&self) -> io::Result<()> {
        // A second descriptor of the socket, known to the runtime, for its writability.
        let sock = tokio::net::UnixStream::from_std(self.inner.sock.try_clone()?)?;
        loop {
            // Wait for something to wait (a permit is kept if it came before this wait).
            loop {
                let wake = self.inner.wake.notified();
                {
                    let w = self.waiting();
                    if let Some(kind) = w.broken {
                        return Err(kind.into());
                    }
                    if !w.lines.is_empty() {
                        break;
                    }
                }
                wake.await;
            }
            tokio::time::timeout(LINK_WRITE_STALL, sock.writable())
                .await
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the driver read nothing for {} s",
                            LINK_WRITE_STALL.as_secs()
                        ),
                    )
                })??;
            let mut w = self.waiting();
            while let Some(line) = w.lines.front() {
                let len = line.len();
                // (try_write notes the socket full for the next `writable`)
                match sock.try_write(&line[w.written..]) {
                    Ok(n) => {
                        w.written += n;
                        if w.written == len {
                            w.lines.pop_front();
                            w.written = 0;
                        }
                    }
                    Err(e) if is_retry(&e) => break,
                    Err(e) => {
                        w.broken = Some(e.kind());
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// The socket is full (or the call was interrupted): try again later.
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
