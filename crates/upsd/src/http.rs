//! The read-only HTTP listener (`LISTEN_HTTP`): hyper's HTTP/1 server on each bound socket,
//! answering from a snapshot of the state that [`view`] renders outside the lock.
//!
//! It shares the NUT listener's thread, so it is kept small: at most [`MAX_CONNS`]
//! connections at once (more wait in the listen queue), one request per connection, a
//! request head of at most [`MAX_HEAD`] bytes (hyper answers 431 past it), [`HEAD_READ`] to
//! send that head and [`DEADLINE`] for the whole exchange; a client that is slower is
//! dropped. The lock is held only to copy the snapshot. `ALLOW_FROM` applies as on the NUT
//! port: other peers are closed before a byte is read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use nut_daemon::ratelimit::RateLimit;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::allow::Verdict;
use crate::driver::lock;
use crate::state::Server;
use crate::view::{self, Snapshot};

/// HTTP connections served at once, over all HTTP listeners.
pub(crate) const MAX_CONNS: usize = 32;
/// The largest request head (request line and headers) read: hyper's smallest buffer.
pub(crate) const MAX_HEAD: usize = 8192;
/// How long a client may take to send its request head.
pub(crate) const HEAD_READ: Duration = Duration::from_secs(5);
/// How long a whole connection may last, reply included.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);
/// Pause after a failed accept (out of descriptors), and between its log lines.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(200);
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Accept HTTP connections on `listener` until upsd stops; `permits` is shared by all the
/// HTTP listeners.
pub(crate) async fn accept_loop(
    server: Arc<Mutex<Server>>,
    listener: TcpListener,
    permits: Arc<Semaphore>,
) {
    let mut accept_log = RateLimit::new(ACCEPT_LOG_EVERY);
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                let verdict = lock(&server).allow.check(peer.ip(), crate::clock::now());
                match verdict {
                    Verdict::Admit => {}
                    Verdict::RefuseAndLog => {
                        tracing::warn!("HTTP: {}", crate::allow::refusal(peer.ip()));
                        continue;
                    }
                    Verdict::Refuse => continue,
                }
                let server = server.clone();
                tokio::spawn(async move {
                    serve(server, stream, peer).await;
                    drop(permit);
                });
            }
            Err(e) => {
                if let Some(held) = accept_log.check(std::time::Instant::now()) {
                    tracing::warn!("HTTP accept failed: {e}{held}");
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// One connection: one request, then close; cut at [`DEADLINE`].
async fn serve(server: Arc<Mutex<Server>>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req| {
        let server = server.clone();
        async move { Ok::<_, Infallible>(answer(&server, &req)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_READ)
        .keep_alive(false)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(DEADLINE, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("HTTP {}: {e}", crate::client::peer_text(&peer)),
        Err(_) => tracing::debug!(
            "HTTP {}: dropped after {} s",
            crate::client::peer_text(&peer),
            DEADLINE.as_secs()
        ),
    }
}

/// The response to one request.
fn answer(server: &Arc<Mutex<Server>>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let has_body = !req.body().is_end_stream();
    let reply = view::route(req.method().as_str(), req.uri().path(), has_body, || {
        Snapshot::take(&lock(server), crate::clock::now())
    });
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if reply.status == 405 {
        headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    response
}
