//! One client connection: read up to 512 bytes at a time, tokenize, and answer each complete
//! line in turn. Replies to one read go out in one write while they are small; past
//! [`OUT_HIGH`] bytes what is pending is written before the next line is looked at, so a
//! client that sends faster than it reads is simply not read (backpressure) and holds at most
//! one reply beyond the bound. A client that takes none of its pending replies for
//! [`WRITE_STALL`] is dropped and logged; one silent for more than 60 s is dropped by the
//! idle sweep ([`sweep_idle`]). STARTTLS switches the same connection to TLS; LOGOUT closes it
//! once the bytes already read are answered.
//!
//! An idle plain connection holds no buffer and no timer: the 512-byte read buffer and the
//! reply buffer are one per thread ([`SCRATCH`]), borrowed only while a read is answered;
//! only the replies the socket did not take at once, and bytes read but not yet answered
//! when the replies filled up, are kept by the connection until they are sent. The idle
//! deadline is one timestamp per client, checked by one sweep for all of them. The TLS path
//! keeps its own buffers and lives in a box, so it costs a plain connection nothing.

use std::cell::RefCell;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use nut_daemon::ratelimit::RateLimit;
use nut_proto::Tokenizer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;

use crate::clock;
use crate::cmd::{dispatch, After, Session};
use crate::driver::lock;
use crate::state::{Peer, Server};

/// Stock drops a client when more than 60 whole seconds passed since its last complete line.
const IDLE: Duration = Duration::from_secs(61);
/// How long a TLS handshake may take before the client is dropped.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Replies waiting to be sent past which they are written before the next line is read.
pub(crate) const OUT_HIGH: usize = 16 * 1024;
/// The most handed to one write call on TLS.
const CHUNK: usize = 16 * 1024;
/// A client whose pending replies make no progress for this long is dropped.
pub(crate) const WRITE_STALL: Duration = Duration::from_secs(30);
/// "Parse error" lines, at most one per 10 s for all clients.
static PARSE_ERROR_LOG: Mutex<RateLimit> = Mutex::new(RateLimit::new(Duration::from_secs(10)));
/// How long the TLS close may take (a client that reads nothing never takes it).
const TLS_CLOSE: Duration = Duration::from_secs(2);
/// Stock reads at most this much per pass (a parse error drops the rest of one read).
const READ: usize = 512;
/// A reply buffer grown past this is given back once sent.
const SCRATCH_KEEP: usize = 64 * 1024;

/// One thread's buffers for answering a read: borrowed inside a poll, never across an await.
struct Scratch {
    input: [u8; READ],
    out: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch { input: [0; READ], out: Vec::new() })
    };
}

/// The address NUT shows for a peer: the bare address, IPv4-mapped IPv6 as IPv4 (its
/// `Display` is NUT's text).
pub(crate) fn peer_ip(addr: &SocketAddr) -> IpAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => v4.into(),
            None => (*v6.ip()).into(),
        },
        SocketAddr::V4(v4) => (*v4.ip()).into(),
    }
}

enum End {
    Closed,
    StartTls,
    /// `OK WATCHING` was sent: the connection goes on in [`owned_loop`], which also pushes.
    Watch(Box<Leftover>),
}

/// What a pass over bytes read left for the next loop to answer.
#[derive(Default)]
struct Leftover {
    partial: Option<Box<Tokenizer>>,
    rest: Box<[u8]>,
    close: bool,
}

/// Serve one connection to the end; `permit` (a MAXCONN slot) is given back after. The
/// socket is closed only after the client left the registry (see [`Peer`]). The socket
/// comes with TCP_NODELAY from its listener (set once there by `server::spawn_accept_loop`).
///
/// The registration is done before the returned future exists, so the future (which every
/// connection's task holds inline for its whole life) keeps only what the session needs.
pub(crate) fn serve(
    server: Arc<Mutex<Server>>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: Option<OwnedSemaphorePermit>,
) -> Connection {
    let entry = lock(&server).add_client(peer_ip(&peer), stream.as_raw_fd(), permit);
    crate::fair::join(entry.addr);
    tracing::debug!("Connect from {}", entry.addr);
    Connection(Stage::Plain(Plain {
        link: Link {
            session: Session::of(&entry),
            server,
            stream,
            peer: entry.peer,
        },
        left: Leftover::default(),
        yielded: false,
        writing: None,
    }))
}

/// One connection's task. Every connection runs the plain loop, and tokio's task holds this
/// future inline for the connection's whole life, so the loop is written by hand: each part
/// is held once (an `async fn` holds its arguments and the locals they move into apart),
/// and 152 bytes or less make a 256-byte task cell instead of 384. A watching or TLS
/// connection goes on in a boxed `async` future: few, and larger.
pub(crate) struct Connection(Stage);

enum Stage {
    Plain(Plain),
    Owned(Pin<Box<dyn Future<Output = ()> + Send>>),
    Done,
}

/// A connection's parts. Dropped (however the connection ends), it leaves the registry, and
/// only then closes the socket and gives back the MAXCONN slot (the peer, dropped last).
struct Link {
    server: Arc<Mutex<Server>>,
    session: Session,
    stream: TcpStream,
    peer: Arc<Peer>,
}

impl Drop for Link {
    fn drop(&mut self) {
        lock(&self.server).remove_client(self.session.id);
        crate::fair::leave(self.session.addr);
        tracing::debug!("Disconnect {}", self.session.addr);
    }
}

/// The plain loop's state between polls.
struct Plain {
    link: Link,
    left: Leftover,
    /// The rest of a read waits: this connection has let the others go first once.
    yielded: bool,
    /// Replies the socket did not take at once: rare, so boxed.
    writing: Option<Box<Writing>>,
}

impl Future for Connection {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let stage = &mut self.get_mut().0;
        loop {
            match stage {
                Stage::Plain(plain) => {
                    let end = ready!(plain.poll(cx));
                    let Stage::Plain(plain) = std::mem::replace(stage, Stage::Done) else {
                        unreachable!("matched above");
                    };
                    match end {
                        End::Closed => return Poll::Ready(()),
                        end => *stage = Stage::Owned(Box::pin(go_on(plain.link, end))),
                    }
                }
                Stage::Owned(rest) => {
                    ready!(rest.as_mut().poll(cx));
                    *stage = Stage::Done;
                }
                Stage::Done => return Poll::Ready(()),
            }
        }
    }
}

/// A connection after `OK WATCHING` or `OK STARTTLS`.
async fn go_on(mut link: Link, mut end: End) {
    let Link {
        server,
        session,
        stream,
        peer,
    } = &mut link;
    if let End::Watch(left) = end {
        end = owned_loop(server, session, stream, peer, *left).await;
    }
    if let End::StartTls = end {
        let config = lock(server).tls.clone();
        if let Some(config) = config {
            serve_tls(server, session, stream, TlsAcceptor::from(config), peer).await;
        }
    }
}

/// The rest of a connection after `OK STARTTLS`: the handshake, then the session over TLS.
async fn serve_tls(
    server: &Arc<Mutex<Server>>,
    session: &mut Session,
    stream: &mut TcpStream,
    acceptor: TlsAcceptor,
    peer: &Peer,
) {
    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
        Ok(Ok(mut tls_stream)) => {
            session.tls = true;
            tracing::debug!("TLS handshake done with {}", session.addr);
            owned_loop(server, session, &mut tls_stream, peer, Leftover::default()).await;
            let _ = tokio::time::timeout(TLS_CLOSE, tls_stream.shutdown()).await;
        }
        Ok(Err(e)) => tracing::info!("TLS handshake with {} failed: {e}", session.addr),
        Err(_) => tracing::info!("TLS handshake with {} timed out", session.addr),
    }
}

/// The idle sweep: drop every client whose last complete line is more than 60 whole seconds
/// old, sleeping until the next such deadline (or until a client connects, when there is
/// none). One timer for all connections instead of one each.
pub(crate) async fn sweep_idle(server: Arc<Mutex<Server>>) {
    let idle = u64::try_from(IDLE.as_millis()).unwrap_or(u64::MAX);
    let first_client = lock(&server).first_client.clone();
    loop {
        let next = {
            let s = lock(&server);
            let now = clock::millis();
            let mut next: Option<u64> = None;
            for c in &s.clients {
                let due = c.peer.active().saturating_add(idle);
                if due <= now {
                    tracing::debug!("Disconnect {} (idle)", c.addr);
                    c.peer.kick();
                } else {
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
            }
            // Clients kicked but not gone yet: look again shortly, for whoever comes next
            // (the first-client wake-up only fires when the registry is empty).
            if next.is_none() && !s.clients.is_empty() {
                next = Some(now.saturating_add(1000));
            }
            next
        };
        match next {
            Some(due) => tokio::time::sleep_until(clock::at_millis(due)).await,
            None => first_client.notified().await,
        }
    }
}

/// How a pass over bytes read ended.
enum Fed {
    /// Every byte was looked at (or the rest dropped after a parse error).
    All,
    /// The replies reached [`OUT_HIGH`]: the bytes not yet looked at wait in `rest`.
    Full,
    /// `OK STARTTLS` was the last reply: the handshake comes next.
    StartTls,
}

/// One connection's answering state, borrowed from its parts while a read is answered.
struct Conn<'a> {
    server: &'a Arc<Mutex<Server>>,
    session: &'a mut Session,
    peer: &'a Peer,
    left: &'a mut Leftover,
}

impl Conn<'_> {
    /// Answer the complete lines of `bytes` into `out`, taking the server lock once.
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Fed {
        let mut tok = self.left.partial.take().map_or_else(Tokenizer::new, |t| *t);
        let fed = self.feed_with(&mut tok, bytes, out);
        if !tok.is_idle() {
            self.left.partial = Some(Box::new(tok));
        }
        fed
    }

    fn feed_with(&mut self, tok: &mut Tokenizer, bytes: &[u8], out: &mut Vec<u8>) -> Fed {
        let mut guard = None;
        for (i, &b) in bytes.iter().enumerate() {
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
                        tracing::info!("Parse error on sock from {}: {e}{held}", self.session.addr);
                    }
                    return Fed::All;
                }
                Some(Ok(words)) => {
                    self.peer.touch();
                    let s = guard.get_or_insert_with(|| lock(self.server));
                    let reply = dispatch(s, self.session, words, clock::now());
                    reply.render_into(out);
                    match After::of(&reply) {
                        After::Continue => {}
                        After::Close => self.left.close = true,
                        After::StartTls => return Fed::StartTls,
                    }
                    if out.len() >= OUT_HIGH {
                        // empty here: the caller took what an earlier pass left
                        self.left.rest = bytes[i + 1..].into();
                        return Fed::Full;
                    }
                }
            }
        }
        Fed::All
    }

    /// After the replies to a pass are sent: how the connection goes on.
    fn next(&self, fed: &Fed) -> Option<End> {
        match fed {
            Fed::StartTls => Some(End::StartTls),
            _ if self.left.close && self.left.rest.is_empty() => Some(End::Closed),
            _ => None,
        }
    }
}

impl Plain {
    fn conn(&mut self) -> Conn<'_> {
        let Link {
            server,
            session,
            peer,
            ..
        } = &mut self.link;
        Conn {
            server,
            session,
            peer,
            left: &mut self.left,
        }
    }

    /// The plain loop: read into the thread's buffer and answer within the same poll, write
    /// the replies, again, until the connection ends or goes on elsewhere.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        let addr = self.link.session.addr;
        loop {
            if let Some(mut writing) = self.writing.take() {
                match writing.poll(cx, &self.link.stream, addr) {
                    Poll::Pending => {
                        self.writing = Some(writing);
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(Dropped)) => return Poll::Ready(End::Closed),
                    Poll::Ready(Ok(())) => {}
                }
                if let Some(end) = self.after(&writing.fed) {
                    return Poll::Ready(end);
                }
                continue;
            }
            let fed = if self.left.rest.is_empty() {
                if ready!(self.link.stream.poll_read_ready(cx)).is_err() {
                    return Poll::Ready(End::Closed);
                }
                // A turn of the address's share is taken only with a request waiting.
                if !crate::fair::admit(addr, cx) {
                    return Poll::Pending;
                }
                let read = SCRATCH.with_borrow_mut(|scratch| {
                    let Scratch { input, out } = scratch;
                    let mut rb = ReadBuf::new(input);
                    match Pin::new(&mut self.link.stream).poll_read(cx, &mut rb) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(Err(_)) => Poll::Ready(None),
                        Poll::Ready(Ok(())) if rb.filled().is_empty() => Poll::Ready(None),
                        Poll::Ready(Ok(())) => {
                            Poll::Ready(Some(self.conn().feed(rb.filled(), out)))
                        }
                    }
                });
                match ready!(read) {
                    Some(fed) => fed,
                    None => return Poll::Ready(End::Closed),
                }
            } else {
                // More requests of one read wait: let every other connection have its turn
                // first, so a client that pipelines many big replies (and a socket that takes
                // them all) delays the others by one pass, not by all of its replies.
                if !self.yielded {
                    self.yielded = true;
                    // Its first poll schedules this task after the others and says Pending.
                    let _ = std::pin::pin!(tokio::task::yield_now()).poll(cx);
                    return Poll::Pending;
                }
                if !crate::fair::admit(addr, cx) {
                    return Poll::Pending;
                }
                self.yielded = false;
                let bytes = std::mem::take(&mut self.left.rest);
                SCRATCH.with_borrow_mut(|scratch| self.conn().feed(&bytes, &mut scratch.out))
            };
            match send_plain(&self.link.stream, addr) {
                Err(Dropped) => return Poll::Ready(End::Closed),
                Ok(left) if !left.is_empty() => {
                    self.writing = Some(Box::new(Writing::new(left, fed)));
                    continue;
                }
                Ok(_) => {}
            }
            if let Some(end) = self.after(&fed) {
                return Poll::Ready(end);
            }
        }
    }

    /// After the replies to a pass are sent: how the connection goes on, if not here.
    fn after(&mut self, fed: &Fed) -> Option<End> {
        if let Some(end) = self.conn().next(fed) {
            return Some(end);
        }
        if self.link.session.watch.is_some() {
            return Some(End::Watch(Box::new(std::mem::take(&mut self.left))));
        }
        None
    }
}

/// A connection with buffers of its own: over TLS, or one that watches a UPS (`WATCH`).
/// Between replies it pushes the watched UPS's status changes, one line each; while a push
/// waits for a slow reader, later changes replace it (the newest is sent) and nothing more
/// is read, and a reader that takes nothing for [`WRITE_STALL`] is dropped as any other.
async fn owned_loop<S: AsyncRead + AsyncWrite + Unpin>(
    server: &Arc<Mutex<Server>>,
    session: &mut Session,
    io: &mut S,
    peer: &Peer,
    left: Leftover,
) -> End {
    let mut left = left;
    let mut conn = Conn {
        server,
        session,
        peer,
        left: &mut left,
    };
    let mut buf = [0u8; READ];
    let mut out = Vec::new();
    loop {
        let fed = if conn.left.rest.is_empty() {
            let read = tokio::select! {
                read = io.read(&mut buf) => read,
                line = crate::cmd::next_push(&mut conn.session.watch) => {
                    out = line;
                    if send(io, &mut out, conn.session.addr).await.is_err() {
                        return End::Closed;
                    }
                    continue;
                }
            };
            match read {
                Ok(0) | Err(_) => return End::Closed,
                Ok(n) => conn.feed(&buf[..n], &mut out),
            }
        } else {
            // Others first (see Plain::poll).
            tokio::task::yield_now().await;
            let bytes = std::mem::take(&mut conn.left.rest);
            conn.feed(&bytes, &mut out)
        };
        if send(io, &mut out, conn.session.addr).await.is_err() {
            return End::Closed;
        }
        if let Some(end) = conn.next(&fed) {
            return end;
        }
    }
}

/// The client is gone or was dropped (logged).
struct Dropped;

fn stalled(addr: IpAddr) -> Dropped {
    tracing::warn!(
        "Dropping client {addr}: it read none of its replies for {} s",
        WRITE_STALL.as_secs()
    );
    Dropped
}

fn failed(addr: IpAddr, e: std::io::Error) -> Dropped {
    tracing::info!("Dropping client {addr}: write failed: {e}");
    Dropped
}

/// Write the thread's pending replies to a plain socket: one write, which takes them all
/// unless the client is behind; what it leaves is returned, to be written as the socket
/// takes it ([`Writing`]). A socket that fails is logged.
fn send_plain(stream: &TcpStream, addr: IpAddr) -> Result<Vec<u8>, Dropped> {
    let left = SCRATCH.with_borrow_mut(|scratch| {
        let out = &mut scratch.out;
        let mut done = 0;
        let result = loop {
            if done == out.len() {
                break Ok(Vec::new());
            }
            match stream.try_write(&out[done..]) {
                Ok(0) => break Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    break Ok(out[done..].to_vec())
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        out.clear();
        if out.capacity() > SCRATCH_KEEP {
            *out = Vec::new();
        }
        result
    });
    left.map_err(|e| failed(addr, e))
}

/// Replies a plain socket did not take at once, written as it takes them. A client that
/// takes none of them for [`WRITE_STALL`] is dropped, and so is one whose socket fails;
/// both are logged.
struct Writing {
    left: Vec<u8>,
    done: usize,
    stall: Pin<Box<tokio::time::Sleep>>,
    /// How the pass that made them ended (see [`Plain::after`]).
    fed: Fed,
}

impl Writing {
    fn new(left: Vec<u8>, fed: Fed) -> Writing {
        Writing {
            left,
            done: 0,
            stall: Box::pin(tokio::time::sleep(WRITE_STALL)),
            fed,
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        stream: &TcpStream,
        addr: IpAddr,
    ) -> Poll<Result<(), Dropped>> {
        while self.done < self.left.len() {
            match stream.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(failed(addr, e))),
                Poll::Pending => {
                    ready!(self.stall.as_mut().poll(cx));
                    return Poll::Ready(Err(stalled(addr)));
                }
            }
            match stream.try_write(&self.left[self.done..]) {
                Ok(0) => {
                    return Poll::Ready(Err(failed(addr, std::io::ErrorKind::WriteZero.into())))
                }
                Ok(n) => {
                    self.done += n;
                    let due = tokio::time::Instant::now() + WRITE_STALL;
                    self.stall.as_mut().reset(due);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Poll::Ready(Err(failed(addr, e))),
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Write `out` in chunks of at most [`CHUNK`] bytes, then free it. A client that takes none
/// of it for [`WRITE_STALL`] is dropped, and so is one whose socket fails; both are logged.
async fn send<S: AsyncWrite + Unpin>(
    io: &mut S,
    out: &mut Vec<u8>,
    addr: IpAddr,
) -> Result<(), Dropped> {
    if out.is_empty() {
        return Ok(());
    }
    let pending = std::mem::take(out);
    let mut rest = &pending[..];
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(CHUNK)];
        match tokio::time::timeout(WRITE_STALL, io.write(chunk)).await {
            Err(_) => return Err(stalled(addr)),
            Ok(Err(e)) => return Err(failed(addr, e)),
            Ok(Ok(0)) => return Err(failed(addr, std::io::ErrorKind::WriteZero.into())),
            Ok(Ok(n)) => rest = &rest[n..],
        }
    }
    match tokio::time::timeout(WRITE_STALL, io.flush()).await {
        Err(_) => Err(stalled(addr)),
        Ok(Err(e)) => Err(failed(addr, e)),
        Ok(Ok(())) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one idle plain connection's task holds inline: the future `serve` returns.
    #[tokio::test]
    async fn a_connection_future_is_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let server = Arc::new(Mutex::new(Server::new()));
        let fut = serve(server, stream, addr, None);
        let size = size_of_val(&fut);
        eprintln!("serve future: {size} bytes");
        // tokio's task cell is 128-byte aligned and adds 104 bytes (on 64-bit targets): a
        // future of at most 152 bytes (136 in release, 144 here) makes a 256-byte cell, 8
        // bytes more a 384-byte one
        assert!(size <= 152, "serve future: {size} bytes");
    }

    fn set_status(server: &Arc<Mutex<Server>>, value: &str) {
        let msg = nut_state::DriverMsg::SetInfo {
            var: "ups.status".into(),
            value: value.into(),
        };
        lock(server).ups_mut("ups").unwrap().on_message(&msg, 100);
    }

    /// A server with UPS `ups`, one connection served with socket buffers of `buf` bytes
    /// both ways (0: the system's), and the client's end of it.
    async fn one_connection(buf: u32) -> (Arc<Mutex<Server>>, TcpStream) {
        let (server, driver) = crate::fuzz::sample_server();
        std::mem::forget(driver);
        let server = Arc::new(Mutex::new(server));
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        let client = tokio::net::TcpSocket::new_v4().unwrap();
        if buf > 0 {
            socket.set_send_buffer_size(buf).unwrap();
            client.set_recv_buffer_size(buf).unwrap();
        }
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(8).unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = client.connect(addr).await.unwrap();
        let (accepted, peer) = listener.accept().await.unwrap();
        tokio::spawn(serve(server.clone(), accepted, peer, None));
        (server, stream)
    }

    /// A server with UPS `ups` (and its driver's end) serving every connection to the address
    /// returned.
    async fn accepting() -> (
        Arc<Mutex<Server>>,
        std::os::unix::net::UnixStream,
        SocketAddr,
    ) {
        let (server, driver) = crate::fuzz::sample_server();
        let server = Arc::new(Mutex::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = server.clone();
        tokio::spawn(async move {
            loop {
                let (stream, peer) = listener.accept().await.unwrap();
                tokio::spawn(serve(serving.clone(), stream, peer, None));
            }
        });
        (server, driver, addr)
    }

    async fn read_some(stream: &mut TcpStream) -> String {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// A watching connection gets its status lines between the replies to what it sends.
    #[tokio::test]
    async fn a_watcher_is_pushed_status_changes_and_still_answered() {
        let (server, mut stream) = one_connection(0).await;
        stream
            .write_all(b"WATCH ups\nGET VAR ups ups.status\n")
            .await
            .unwrap();
        assert_eq!(
            read_some(&mut stream).await,
            "OK WATCHING\nVAR ups ups.status \"OL\"\n"
        );
        set_status(&server, "OB DISCHRG");
        assert_eq!(read_some(&mut stream).await, "STATUS ups \"OB DISCHRG\"\n");
        stream.write_all(b"VER\n").await.unwrap();
        let ver = read_some(&mut stream).await;
        assert!(ver.starts_with("Network UPS Tools upsd "), "{ver}");
        set_status(&server, "OB DISCHRG LB");
        assert_eq!(
            read_some(&mut stream).await,
            "STATUS ups \"OB DISCHRG LB\"\n"
        );
        stream.write_all(b"LOGOUT\n").await.unwrap();
        assert_eq!(read_some(&mut stream).await, "OK Goodbye\n");
        assert_eq!(read_some(&mut stream).await, "", "closed after LOGOUT");
    }

    /// A watcher that reads nothing holds at most the socket buffers and one line: changes
    /// it was not sent are replaced by the newest, and it is dropped after WRITE_STALL.
    #[tokio::test(start_paused = true)]
    async fn a_watcher_that_does_not_read_is_bounded_then_dropped() {
        let (server, mut stream) = one_connection(4096).await;
        stream.write_all(b"WATCH ups\n").await.unwrap();
        const CHANGES: usize = 20_000;
        for i in 0..CHANGES {
            set_status(&server, if i % 2 == 0 { "OB" } else { "OL" });
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(WRITE_STALL + Duration::from_secs(2)).await;
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got))
            .await
            .expect("the connection is closed")
            .ok();
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("OK WATCHING\nSTATUS ups \""), "{text:.60}");
        let lines = text.lines().count();
        // each queued change would be one line; what the buffers held is far less
        assert!(lines < CHANGES / 10, "{lines} lines for {CHANGES} changes");
        assert!(lock(&server).clients.is_empty(), "the watcher was dropped");
    }

    /// A connection's task dropped before its end (an abort, a runtime shutting down) still
    /// leaves the registry and closes its socket: its parts are given back by their drop.
    #[tokio::test]
    async fn an_aborted_connection_leaves_the_registry() {
        let (server, _driver) = crate::fuzz::sample_server();
        let server = Arc::new(Mutex::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let task = tokio::spawn(serve(server.clone(), stream, peer, None));
        client.write_all(b"VER\n").await.unwrap();
        assert!(read_some(&mut client)
            .await
            .starts_with("Network UPS Tools upsd "));
        assert_eq!(lock(&server).clients.len(), 1);
        task.abort();
        let _ = task.await;
        assert!(lock(&server).clients.is_empty(), "still registered");
        assert_eq!(read_some(&mut client).await, "", "its socket is closed");
    }

    /// A status change reaches 1,000 polling clients at their next poll, and costs nothing
    /// per client when it happens: it changes the tree only, and no client is sent anything
    /// (`scripts/bench change1000` measures the CPU).
    #[tokio::test]
    async fn a_status_change_reaches_every_clients_next_poll_and_sends_nothing() {
        const CLIENTS: usize = 1000;
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        if soft < 2 * CLIENTS as u64 + 100 {
            setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
        }
        let (server, _driver, addr) = accepting().await;
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"GET VAR ups ups.status\n").await.unwrap();
            assert_eq!(read_some(&mut c).await, "VAR ups ups.status \"OL\"\n");
            clients.push(c);
        }
        set_status(&server, "OB DISCHRG");
        // Let every connection's task run that could have been woken.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut buf = [0u8; 64];
        let sent = clients
            .iter()
            .filter(|c| c.try_read(&mut buf).is_ok())
            .count();
        assert_eq!(sent, 0, "clients sent something unasked after the change");
        for c in &mut clients {
            c.write_all(b"GET VAR ups ups.status\n").await.unwrap();
            assert_eq!(read_some(c).await, "VAR ups ups.status \"OB DISCHRG\"\n");
        }
    }

    /// One address floods with a request on each of its 500 connections; a client on another
    /// address, whose request came last, is answered after at most a few shares of them
    /// (without the fair share: after all 500).
    #[tokio::test]
    async fn another_address_is_answered_before_a_floods_backlog() {
        const FLOOD: usize = 500;
        tokio::spawn(crate::fair::rounds());
        let (server, _driver, addr) = accepting().await;
        let mut flood = Vec::new();
        for _ in 0..FLOOD {
            flood.push(TcpStream::connect(addr).await.unwrap());
        }
        let other = tokio::net::TcpSocket::new_v4().unwrap();
        other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut other = other.connect(addr).await.unwrap();
        while lock(&server).clients.len() < FLOOD + 1 {
            tokio::task::yield_now().await;
        }
        for f in &flood {
            f.try_write(b"GET VAR ups ups.status\n").unwrap();
        }
        other.write_all(b"GET VAR ups ups.status\n").await.unwrap();
        assert_eq!(read_some(&mut other).await, "VAR ups ups.status \"OL\"\n");
        let mut buf = [0u8; 64];
        let answered = flood
            .iter()
            .filter(|f| f.try_read(&mut buf).is_ok())
            .count();
        assert!(
            answered <= 4 * crate::fair::SHARE as usize,
            "{answered} of {FLOOD} flooders answered first"
        );
    }
}
