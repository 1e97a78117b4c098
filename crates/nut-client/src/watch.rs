//! [`Watcher`]: a connection that sent nut-rs's `WATCH <ups>` and now receives the UPS's
//! status changes as upsd pushes them (`STATUS <ups> "<status>"`). Stock upsd answers
//! `WATCH` with `ERR UNKNOWN-COMMAND` ([`Client::watch`] returns that error).
//!
//! upsd drops a client that sends nothing for 60 s, so the watcher sends `NETVER` every
//! [`Watcher::KEEPALIVE`] and expects its answer within the I/O timeout: a silent server is
//! noticed too.

use std::time::Duration;

use nut_proto::{OkReply, Pushed, Request};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::client::{Client, Io, MAX_LINE};
use crate::error::{Error, Result};

/// A connection watching one UPS (see the module documentation).
pub struct Watcher {
    io: Io,
    /// The I/O timeout of the client it came from (the keepalive's answer, each write).
    timeout: Duration,
    /// Bytes of a line not yet complete (kept here so that [`Watcher::next`] may be
    /// cancelled at any point without losing any).
    pending: Vec<u8>,
    /// When the next keepalive is due, or, while one is unanswered, when it times out.
    due: Instant,
    /// A keepalive waits for its answer.
    awaiting: bool,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("awaiting", &self.awaiting)
            .finish()
    }
}

impl Client {
    /// `WATCH <ups>` (nut-rs's upsd only): the connection becomes a [`Watcher`]. Stock upsd
    /// answers `ERR UNKNOWN-COMMAND` ([`Error::Server`] with [`crate::ErrCode::UnknownCommand`]),
    /// an unknown UPS `ERR UNKNOWN-UPS`.
    pub async fn watch(mut self, ups: &str) -> Result<Watcher> {
        let ok = self.ask_ok(Request::Watch(ups.to_owned())).await?;
        if ok != OkReply::Watching {
            return Err(Error::Protocol(format!("expected OK WATCHING, got {ok:?}")));
        }
        let timeout = self.timeout().unwrap_or(crate::DEFAULT_TIMEOUT);
        let io = self.take_io().ok_or(Error::Closed)?;
        Ok(Watcher {
            io,
            timeout,
            pending: Vec::new(),
            due: Instant::now() + Watcher::KEEPALIVE,
            awaiting: false,
        })
    }
}

impl Watcher {
    /// How often a watcher that heard nothing sends `NETVER` (upsd's idle limit is 60 s).
    pub const KEEPALIVE: Duration = Duration::from_secs(30);

    /// The next status pushed: its UPS and its words. Cancel-safe. An error (the server
    /// closed, a line that is neither a push nor the keepalive's answer, no answer to the
    /// keepalive in time) ends the watch: connect again.
    pub async fn next(&mut self) -> Result<(String, String)> {
        loop {
            while let Some(line) = self.take_line()? {
                match Pushed::parse(&line) {
                    Some(Pushed::Status { ups, status }) => return Ok((ups, status)),
                    Some(_) => {}
                    None if self.awaiting && !line.starts_with("ERR") => {
                        self.awaiting = false;
                        self.due = Instant::now() + Watcher::KEEPALIVE;
                    }
                    None => return Err(Error::Protocol(format!("unexpected line {line:?}"))),
                }
            }
            tokio::select! {
                read = self.io.fill_buf() => {
                    let buf = read?;
                    if buf.is_empty() {
                        return Err(Error::Closed);
                    }
                    let n = buf.len();
                    self.pending.extend_from_slice(buf);
                    self.io.consume(n);
                }
                () = tokio::time::sleep_until(self.due) => {
                    if self.awaiting {
                        return Err(Error::Timeout);
                    }
                    let line = format!("{}\n", Request::NetVer.to_line());
                    tokio::time::timeout(self.timeout, async {
                        self.io.write_all(line.as_bytes()).await?;
                        self.io.flush().await
                    })
                    .await
                    .map_err(|_| Error::Timeout)??;
                    self.awaiting = true;
                    self.due = Instant::now() + self.timeout;
                }
            }
        }
    }

    /// A complete line from what was read, without its line feed (and CR).
    fn take_line(&mut self) -> Result<Option<String>> {
        let Some(i) = self.pending.iter().position(|&b| b == b'\n') else {
            if self.pending.len() > MAX_LINE {
                return Err(Error::Protocol(format!(
                    "line longer than {MAX_LINE} bytes"
                )));
            }
            return Ok(None);
        };
        let mut line: Vec<u8> = self.pending.drain(..=i).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(String::from_utf8_lossy(&line).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A client over one end of a pipe; the test plays upsd on the other.
    fn pair() -> (Client, tokio::io::DuplexStream) {
        let (a, b) = tokio::io::duplex(4096);
        (Client::from_stream(a), b)
    }

    async fn expect(server: &mut tokio::io::DuplexStream, want: &str) {
        let mut buf = vec![0u8; want.len()];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&buf), want);
    }

    #[tokio::test(start_paused = true)]
    async fn pushed_lines_and_keepalives() {
        let (client, mut server) = pair();
        let watching = tokio::spawn(client.watch("ups"));
        expect(&mut server, "WATCH ups\n").await;
        // a push right behind the OK is not lost
        server
            .write_all(b"OK WATCHING\nSTATUS ups \"OB DISCHRG\"\nSTATUS ups \"OB ")
            .await
            .unwrap();
        let mut w = watching.await.unwrap().unwrap();
        assert_eq!(w.next().await.unwrap(), ("ups".into(), "OB DISCHRG".into()));
        server.write_all(b"LB\"\n").await.unwrap();
        assert_eq!(w.next().await.unwrap(), ("ups".into(), "OB LB".into()));
        // quiet for KEEPALIVE: NETVER, answered, and the watch goes on
        let next = tokio::spawn(async move { (w.next().await, w) });
        expect(&mut server, "NETVER\n").await;
        server.write_all(b"1.3\nSTATUS ups \"OL\"\n").await.unwrap();
        let (got, mut w) = next.await.unwrap();
        assert_eq!(got.unwrap(), ("ups".into(), "OL".into()));
        // a keepalive left unanswered ends it
        let next = tokio::spawn(async move { w.next().await });
        expect(&mut server, "NETVER\n").await;
        assert!(matches!(next.await.unwrap(), Err(Error::Timeout)));
    }

    #[tokio::test]
    async fn stock_upsd_refuses_watch() {
        let (client, mut server) = pair();
        let watching = tokio::spawn(client.watch("ups"));
        expect(&mut server, "WATCH ups\n").await;
        server.write_all(b"ERR UNKNOWN-COMMAND\n").await.unwrap();
        let e = watching.await.unwrap().unwrap_err();
        assert_eq!(e.code(), Some(crate::ErrCode::UnknownCommand));
    }
}
