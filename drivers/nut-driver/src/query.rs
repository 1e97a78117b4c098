//! Talking to a running driver over its socket, as `driver -k`, `driver -c` and upsdrvctl do
//! (NUT's `drivers/upsdrvquery.c`): send a tracked `SET`/`INSTCMD` and wait for its
//! `TRACKING <id> <n>` answer, skipping the broadcasts in between.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The socket directory: env `NUT_STATEPATH` if set and non-empty, else `/run/nut` (Debian's
/// compiled-in STATEPATH).
pub fn statepath() -> PathBuf {
    match std::env::var_os("NUT_STATEPATH") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/run/nut"),
    }
}

/// Where PID files go: env `NUT_ALTPIDPATH`, else the state path.
pub fn altpidpath() -> PathBuf {
    match std::env::var_os("NUT_ALTPIDPATH") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => statepath(),
    }
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("driver socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("no answer from the driver within {0:?}")]
    Timeout(Duration),
    #[error("the driver closed the connection")]
    Closed,
}

/// A connection to a driver socket.
pub struct Query {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Query {
    /// Connect to the socket at `path`.
    pub fn connect(path: &Path) -> Result<Query, QueryError> {
        let stream = UnixStream::connect(path).map_err(|source| QueryError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Query {
            stream,
            buf: Vec::new(),
        })
    }

    /// Send one line (a newline is added).
    pub fn send(&mut self, line: &str) -> Result<(), QueryError> {
        self.stream.write_all(format!("{line}\n").as_bytes())?;
        Ok(())
    }

    /// Read lines until one satisfies `want`, or `timeout` passes.
    pub fn wait_line(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&[String]) -> bool,
    ) -> Result<Vec<String>, QueryError> {
        let t0 = Instant::now();
        loop {
            while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line);
                if let Ok(words) = nut_proto::split_line(text.trim_end()) {
                    if want(&words) {
                        return Ok(words);
                    }
                }
            }
            let left = timeout.saturating_sub(t0.elapsed());
            if left.is_zero() {
                return Err(QueryError::Timeout(timeout));
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(QueryError::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(QueryError::Timeout(timeout))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Send `request` (an `INSTCMD ...` or `SET ...` line without TRACKING) with a fresh
    /// tracking id and return the driver's result code.
    pub fn tracked(&mut self, request: &str, timeout: Duration) -> Result<i32, QueryError> {
        let id = tracking_id();
        self.send(&format!("{request} TRACKING {id}"))?;
        let words = self.wait_line(timeout, |w| {
            w.len() >= 3 && w[0].eq_ignore_ascii_case("TRACKING") && w[1] == id
        })?;
        Ok(nut_state::atoi(&words[2]))
    }
}

fn tracking_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{:x}", std::process::id(), nanos)
}
