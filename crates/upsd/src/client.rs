//! One client connection: read up to 512 bytes at a time, tokenize, answer each complete
//! line, and send all answers to one read in a single write. STARTTLS switches the same
//! connection to TLS; LOGOUT closes it once the bytes already read are answered; a client
//! silent for more than 60 s is dropped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
                let _ = tls_stream.shutdown().await;
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
    // Every answer to one read goes out in one write, from one buffer kept for the connection.
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
        out.clear();
        let mut after = After::Continue;
        for &b in &buf[..n] {
            match tok.push(b) {
                None => continue,
                Some(Err(e)) => {
                    // Stock answers nothing and drops the rest of this read.
                    tracing::info!("Parse error on sock from {}: {e}", session.addr);
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
        if !out.is_empty() && (io.write_all(&out).await.is_err() || io.flush().await.is_err()) {
            return End::Closed;
        }
        match after {
            After::Continue => {}
            After::Close => return End::Closed,
            After::StartTls => return End::StartTls,
        }
    }
}
