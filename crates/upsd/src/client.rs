//! One client connection: read up to 512 bytes at a time, tokenize, and answer each complete
//! line in turn. Replies to one read go out in one write while they are small; past
//! [`OUT_HIGH`] bytes what is pending is written before the next line is looked at, so a
//! client that sends faster than it reads is simply not read (backpressure) and holds at most
//! one reply beyond the bound. A client that takes none of its pending replies for
//! [`WRITE_STALL`] is dropped and logged; one silent for more than 60 s is dropped too.
//! STARTTLS switches the same connection to TLS; LOGOUT closes it once the bytes already read
//! are answered. The reply buffer is allocated when there is something to send and freed
//! once it is sent: an idle connection holds none.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nut_daemon::ratelimit::RateLimit;
use nut_proto::Tokenizer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::clock;
use crate::cmd::{dispatch, After, Session};
use crate::driver::lock;
use crate::state::Server;

/// Stock drops a client when more than 60 whole seconds passed since its last complete line.
const IDLE: Duration = Duration::from_secs(61);
/// How long a TLS handshake may take before the client is dropped.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Replies waiting to be sent past which they are written before the next line is read.
pub(crate) const OUT_HIGH: usize = 16 * 1024;
/// The most handed to one write call.
const CHUNK: usize = 16 * 1024;
/// A client whose pending replies make no progress for this long is dropped.
pub(crate) const WRITE_STALL: Duration = Duration::from_secs(30);
/// "Parse error" lines, at most one per 10 s for all clients.
static PARSE_ERROR_LOG: Mutex<RateLimit> = Mutex::new(RateLimit::new(Duration::from_secs(10)));
/// How long the TLS close may take (a client that reads nothing never takes it).
const TLS_CLOSE: Duration = Duration::from_secs(2);

/// The text NUT shows for a peer: the bare address (IPv4-mapped IPv6 shown as IPv4).
pub(crate) fn peer_text(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.ip().to_string(),
        },
        SocketAddr::V4(v4) => v4.ip().to_string(),
    }
}

enum End {
    Closed,
    StartTls,
}

/// Serve one connection to the end.
pub(crate) async fn serve(
    server: Arc<Mutex<Server>>,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    let entry = lock(&server).add_client(peer_text(&peer));
    tracing::debug!("Connect from {}", entry.addr);
    let mut session = Session {
        id: entry.id,
        addr: entry.addr.clone(),
        ..Session::default()
    };
    let kick = entry.kick.clone();
    let mut stream = stream;
    let end = tokio::select! {
        end = session_loop(&server, &mut session, &mut stream) => end,
        _ = kick.notified() => End::Closed,
    };
    if let (End::StartTls, Some(acceptor)) = (end, tls) {
        match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
            Ok(Ok(mut tls_stream)) => {
                session.tls = true;
                tracing::debug!("TLS handshake done with {}", session.addr);
                tokio::select! {
                    _ = session_loop(&server, &mut session, &mut tls_stream) => {}
                    _ = kick.notified() => {}
                }
                let _ = tokio::time::timeout(TLS_CLOSE, tls_stream.shutdown()).await;
            }
            Ok(Err(e)) => tracing::info!("TLS handshake with {} failed: {e}", session.addr),
            Err(_) => tracing::info!("TLS handshake with {} timed out", session.addr),
        }
    }
    lock(&server).remove_client(session.id);
    tracing::debug!("Disconnect {}", session.addr);
}

async fn session_loop<S: AsyncRead + AsyncWrite + Unpin>(
    server: &Arc<Mutex<Server>>,
    session: &mut Session,
    io: &mut S,
) -> End {
    let mut tok = Tokenizer::new();
    let mut buf = [0u8; 512];
    // Replies not yet written; empty (unallocated) between reads.
    let mut out = Vec::new();
    let mut deadline = Instant::now() + IDLE;
    loop {
        let n = match tokio::time::timeout_at(deadline, io.read(&mut buf)).await {
            Err(_) => {
                tracing::debug!("Disconnect {} (idle)", session.addr);
                return End::Closed;
            }
            Ok(Ok(0)) | Ok(Err(_)) => return End::Closed,
            Ok(Ok(n)) => n,
        };
        let mut after = After::Continue;
        for &b in &buf[..n] {
            match tok.push(b) {
                None => continue,
                Some(Err(e)) => {
                    // Stock answers nothing and drops the rest of this read. A client can
                    // make one a read: at most one line per interval, for all clients.
                    let logged = PARSE_ERROR_LOG
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .check(std::time::Instant::now());
                    if let Some(held) = logged {
                        tracing::info!("Parse error on sock from {}: {e}{held}", session.addr);
                    }
                    break;
                }
                Some(Ok(words)) => {
                    deadline = Instant::now() + IDLE;
                    let step = {
                        let mut s = lock(server);
                        let reply = dispatch(&mut s, session, words, clock::now());
                        reply.render_into(&mut out);
                        After::of(&reply)
                    };
                    if out.len() >= OUT_HIGH && send(io, &mut out, &session.addr).await.is_err() {
                        return End::Closed;
                    }
                    match step {
                        After::Continue => {}
                        After::Close => after = After::Close,
                        After::StartTls => {
                            after = After::StartTls;
                            break;
                        }
                    }
                }
            }
        }
        if send(io, &mut out, &session.addr).await.is_err() {
            return End::Closed;
        }
        match after {
            After::Continue => {}
            After::Close => return End::Closed,
            After::StartTls => return End::StartTls,
        }
    }
}

/// The client is gone or was dropped (logged).
struct Dropped;

/// Write `out` in chunks of at most [`CHUNK`] bytes, then free it. A client that takes none
/// of it for [`WRITE_STALL`] is dropped, and so is one whose socket fails; both are logged.
async fn send<S: AsyncWrite + Unpin>(
    io: &mut S,
    out: &mut Vec<u8>,
    addr: &str,
) -> Result<(), Dropped> {
    if out.is_empty() {
        return Ok(());
    }
    let pending = std::mem::take(out);
    let mut rest = &pending[..];
    let stalled = || {
        tracing::warn!(
            "Dropping client {addr}: it read none of its replies for {} s",
            WRITE_STALL.as_secs()
        );
        Dropped
    };
    let failed = |e: std::io::Error| {
        tracing::info!("Dropping client {addr}: write failed: {e}");
        Dropped
    };
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(CHUNK)];
        match tokio::time::timeout(WRITE_STALL, io.write(chunk)).await {
            Err(_) => return Err(stalled()),
            Ok(Err(e)) => return Err(failed(e)),
            Ok(Ok(0)) => return Err(failed(std::io::ErrorKind::WriteZero.into())),
            Ok(Ok(n)) => rest = &rest[n..],
        }
    }
    match tokio::time::timeout(WRITE_STALL, io.flush()).await {
        Err(_) => Err(stalled()),
        Ok(Err(e)) => Err(failed(e)),
        Ok(Ok(())) => Ok(()),
    }
}
