//! The read-only HTTP listener (`LISTEN_HTTP`, and `LISTEN_HTTPS` over TLS with CERTFILE's
//! acceptor): hyper's HTTP/1 server on each bound socket, answering from a snapshot of the
//! state that [`view`] renders outside the lock.
//!
//! It shares the NUT listener's thread, so it is kept small: at most [`MAX_CONNS`]
//! connections at once (more wait in the listen queue), one request per connection, a
//! request head of at most [`MAX_HEAD`] bytes (hyper answers 431 past it), [`HEAD_READ`] to
//! send that head and [`DEADLINE`] for the whole exchange; a client that is slower is
//! dropped. The lock is held only to copy the snapshot. The accept loop is the NUT port's
//! (`server::accept_loop`), so `ALLOW_FROM` applies here too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;

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
/// Serve one accepted connection in its own task, over TLS with `tls` when given; `permit`
/// (one of [`MAX_CONNS`]) is held until it ends.
pub(crate) fn spawn(
    server: &Arc<Mutex<Server>>,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    permit: OwnedSemaphorePermit,
) {
    let server = server.clone();
    tokio::spawn(async move {
        let who = crate::client::peer_ip(&peer);
        match tokio::time::timeout(DEADLINE, serve(server, stream, tls)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!("HTTP {who}: {e}"),
            Err(_) => tracing::debug!("HTTP {who}: dropped after {} s", DEADLINE.as_secs()),
        }
        drop(permit);
    });
}

/// One connection: the TLS handshake if any, one request, then close.
async fn serve(
    server: Arc<Mutex<Server>>,
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
) -> Result<(), String> {
    match tls {
        None => serve_io(server, stream).await,
        Some(acceptor) => match tokio::time::timeout(HEAD_READ, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => serve_io(server, stream).await,
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Err(_) => Err("TLS handshake timed out".into()),
        },
    }
}

/// Serve one request on `io` (plain or TLS) with hyper.
async fn serve_io<I>(server: Arc<Mutex<Server>>, io: I) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let server = server.clone();
        async move { Ok::<_, Infallible>(answer(&server, &req)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_READ)
        .keep_alive(false)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(io), service);
    conn.await.map_err(|e| e.to_string())
}

/// The response to one request.
fn answer(server: &Arc<Mutex<Server>>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let has_body = !req.body().is_end_stream();
    let reply = view::route(
        req.method().as_str(),
        req.uri().path(),
        has_body,
        |history| Snapshot::take(&lock(server), crate::clock::now(), history),
    );
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
