//! Talking to a running driver over its socket, as `driver -k`, `driver -c` and a second
//! instance do (NUT's `drivers/upsdrvquery.c`): send a tracked `SET`/`INSTCMD` and wait for
//! its `TRACKING <id> <n>` answer, skipping the broadcasts in between. Both directions go
//! through nut-state's codec ([`UpsdMsg`] out, [`DriverMsg`] in).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use nut_state::{DriverMsg, UpsdMsg};

use crate::Error;

/// A connection to a driver socket.
#[derive(Debug)]
pub struct Query {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Query {
    /// Connect to the socket at `path`.
    pub fn connect(path: &Path) -> Result<Query, Error> {
        let stream = UnixStream::connect(path).map_err(|source| Error::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Query {
            stream,
            buf: Vec::new(),
        })
    }

    /// Send one message.
    pub fn send(&mut self, msg: &UpsdMsg) -> Result<(), Error> {
        self.stream.write_all(&msg.encode()).map_err(Error::Socket)
    }

    /// Read messages until `pick` takes one, or `timeout` passes. Lines that are no driver
    /// message are skipped.
    pub fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(DriverMsg) -> Option<T>,
    ) -> Result<T, Error> {
        let t0 = Instant::now();
        loop {
            while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line);
                let msg = nut_proto::split_line(text.trim_end())
                    .ok()
                    .and_then(|words| DriverMsg::parse(&words));
                if let Some(found) = msg.and_then(&mut pick) {
                    return Ok(found);
                }
            }
            let left = timeout.saturating_sub(t0.elapsed());
            if left.is_zero() {
                return Err(Error::Timeout(timeout));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(Error::Socket)?;
            let mut chunk = [0u8; 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(Error::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Error::Timeout(timeout))
                }
                Err(e) => return Err(Error::Socket(e)),
            }
        }
    }

    /// `INSTCMD <cmd> TRACKING <id>`: the driver's result code.
    pub fn instcmd(&mut self, cmd: &str, timeout: Duration) -> Result<i32, Error> {
        self.tracked(
            |tracking| UpsdMsg::InstCmd {
                cmd: cmd.to_string(),
                param: None,
                tracking,
            },
            timeout,
        )
    }

    /// `SET <var> "<value>" TRACKING <id>`: the driver's result code.
    pub fn set(&mut self, var: &str, value: &str, timeout: Duration) -> Result<i32, Error> {
        self.tracked(
            |tracking| UpsdMsg::Set {
                var: var.to_string(),
                value: value.to_string(),
                tracking,
            },
            timeout,
        )
    }

    /// Send the request `make` builds around a fresh tracking id; wait for its result.
    fn tracked(
        &mut self,
        make: impl FnOnce(Option<String>) -> UpsdMsg,
        timeout: Duration,
    ) -> Result<i32, Error> {
        let id = tracking_id();
        self.send(&make(Some(id.clone())))?;
        self.wait_for(timeout, |m| match m {
            DriverMsg::Tracking { id: got, status } if got == id => Some(status),
            _ => None,
        })
    }
}

fn tracking_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{:x}", std::process::id(), nanos)
}
