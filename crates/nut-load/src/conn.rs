//! The connections and their request loops.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;

use crate::args::Route;
use crate::{Args, Error, Mix};

/// A request without an answer after this long counts as failed (and its connection is
/// dropped).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connect may take while setting up (not measured): a server slow to accept
/// (stock upsd with thousands of connections on a loaded machine) overflows its listen
/// backlog, and the kernel retries a dropped SYN after 1, 3, 7 and 15 s.
const SETUP_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections opened at once while setting up.
const CONNECTS_AT_ONCE: usize = 256;

/// What one or more connections measured.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    /// Latency in microseconds of every answered request.
    pub(crate) hist: Histogram<u64>,
    /// Answered requests (whatever the answer).
    pub(crate) answered: u64,
    /// Of those, answers that were `ERR ...`.
    pub(crate) errors: u64,
    /// Requests that got no answer (timeout, connection refused or closed).
    pub(crate) failed: u64,
}

impl Tally {
    pub(crate) fn new() -> Tally {
        Tally {
            // 1 µs .. 60 s, 3 significant digits: the bounds are constants, so this holds
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!()),
            answered: 0,
            errors: 0,
            failed: 0,
        }
    }

    pub(crate) fn add(&mut self, other: &Tally) {
        // same bounds on both sides: adding cannot fail
        let _ = self.hist.add(&other.hist);
        self.answered += other.answered;
        self.errors += other.errors;
        self.failed += other.failed;
    }

    fn record(&mut self, latency: Duration, err: bool) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.hist.saturating_record(us.max(1));
        self.answered += 1;
        if err {
            self.errors += 1;
        }
    }
}

type Lines = BufReader<OwnedReadHalf>;

/// One kept connection (none for the `upsc` mix, which connects per request).
pub(crate) struct Conn {
    io: Option<(Lines, OwnedWriteHalf)>,
}

/// Open `args.connections` connections (logged in for `login-get`), a few hundred at a time.
pub(crate) async fn open_all(route: Route, args: &Args) -> Result<Vec<Conn>, Error> {
    if args.mix == Mix::Upsc {
        return Ok((0..args.connections).map(|_| Conn { io: None }).collect());
    }
    let gate = Arc::new(Semaphore::new(CONNECTS_AT_ONCE));
    let mut tasks = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let gate = gate.clone();
        let login = (args.mix == Mix::LoginGet).then(|| login_lines(args));
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            open(route, login.as_deref(), SETUP_CONNECT_TIMEOUT).await
        }));
    }
    let mut conns = Vec::with_capacity(tasks.len());
    let mut last_err = None;
    for t in tasks {
        match t.await {
            Ok(Ok(io)) => conns.push(Conn { io: Some(io) }),
            Ok(Err(e)) => last_err = Some(e),
            Err(e) => last_err = Some(std::io::Error::other(e)),
        }
    }
    match last_err {
        Some(e) => Err(Error::Connect(route.to.to_string(), e)),
        None => Ok(conns),
    }
}

fn login_lines(args: &Args) -> Vec<String> {
    vec![
        format!("USERNAME {}", args.user),
        format!("PASSWORD {}", args.password),
        format!("LOGIN {}", args.ups),
    ]
}

async fn connect(route: Route) -> std::io::Result<TcpStream> {
    let Some(from) = route.from else {
        return TcpStream::connect(route.to).await;
    };
    let socket = if from.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(route.to).await
}

async fn open(
    route: Route,
    login: Option<&[String]>,
    connect_timeout: Duration,
) -> std::io::Result<(Lines, OwnedWriteHalf)> {
    let stream = tokio::time::timeout(connect_timeout, connect(route))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let mut io = (BufReader::new(r), w);
    for line in login.unwrap_or_default() {
        let reply = exchange(&mut io, line, false).await?;
        if !reply.starts_with("OK") {
            return Err(std::io::Error::other(format!("{line}: {reply}")));
        }
    }
    Ok(io)
}

/// Send `line`, read the answer (a whole list for `list`); the first line of it.
async fn exchange(
    io: &mut (Lines, OwnedWriteHalf),
    line: &str,
    list: bool,
) -> std::io::Result<String> {
    let (r, w) = io;
    let mut out = Vec::with_capacity(line.len() + 1);
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
    w.write_all(&out).await?;
    let mut first = String::new();
    read_line(r, &mut first).await?;
    if list && first.starts_with("BEGIN LIST") {
        tokio::time::timeout(REPLY_TIMEOUT, skip_list(r))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply"))??;
    }
    Ok(first)
}

/// Read the lines of a list after its BEGIN line, up to and with its END line. Bytes, and
/// one deadline for the whole list: a clock read and a UTF-8 check per line made the
/// generator, not the server, the bound of a LIST VAR run.
async fn skip_list(r: &mut Lines) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.starts_with(b"END LIST") {
            return Ok(());
        }
    }
}

async fn read_line(r: &mut Lines, buf: &mut String) -> std::io::Result<()> {
    let n = tokio::time::timeout(REPLY_TIMEOUT, r.read_line(buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply"))??;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// What each connection asks, and how it opens again after a failure.
struct Plan {
    route: Route,
    mix: Mix,
    get: String,
    list: String,
    login: Option<Vec<String>>,
}

impl Plan {
    /// One request on `conn`; `Ok(is_err)` once answered.
    async fn request(&self, conn: &mut Conn) -> std::io::Result<bool> {
        let reply = match self.mix {
            Mix::Upsc => {
                let mut io = open(self.route, None, REPLY_TIMEOUT).await?;
                let reply = exchange(&mut io, &self.get, false).await?;
                exchange(&mut io, "LOGOUT", false).await?;
                reply
            }
            _ => {
                if conn.io.is_none() {
                    conn.io = Some(open(self.route, self.login.as_deref(), REPLY_TIMEOUT).await?);
                }
                let Some(io) = conn.io.as_mut() else {
                    return Err(std::io::ErrorKind::NotConnected.into());
                };
                let (line, list) = match self.mix {
                    Mix::List => (&self.list, true),
                    _ => (&self.get, false),
                };
                match exchange(io, line, list).await {
                    Ok(reply) => reply,
                    Err(e) => {
                        conn.io = None;
                        return Err(e);
                    }
                }
            }
        };
        Ok(reply.starts_with("ERR"))
    }
}

/// Run the load on `conns` until `deadline` or until `max` requests were sent in all; the
/// connections (for a measured run after a warm-up) and what they measured.
pub(crate) async fn drive(
    conns: Vec<Conn>,
    route: Route,
    args: &Args,
    deadline: Instant,
    max: Option<u64>,
) -> (Vec<Conn>, Tally) {
    let plan = Arc::new(Plan {
        route,
        mix: args.mix,
        get: format!("GET VAR {} {}", args.ups, args.var),
        list: format!("LIST VAR {}", args.ups),
        login: (args.mix == Mix::LoginGet).then(|| login_lines(args)),
    });
    let sent = Arc::new(AtomicU64::new(0));
    let n = conns.len().max(1);
    // open loop: each connection sends every n/rate seconds, the starts spread evenly
    let every = args.rate.map(|r| Duration::from_secs_f64(n as f64 / r));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(conns.len());
    for (i, mut conn) in conns.into_iter().enumerate() {
        let plan = plan.clone();
        let sent = sent.clone();
        let offset = every.map(|e| e.mul_f64(i as f64 / n as f64));
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::new();
            let mut due = offset.map(|o| start + o);
            if plan.mix == Mix::Idle {
                tokio::time::sleep_until(deadline.into()).await;
                return (conn, tally);
            }
            loop {
                if let Some(d) = due {
                    tokio::time::sleep_until(d.into()).await;
                }
                let now = Instant::now();
                if now >= deadline || max.is_some_and(|m| sent.fetch_add(1, Ordering::Relaxed) >= m)
                {
                    break;
                }
                // open loop: latency from when the request was due
                let from = due.unwrap_or(now);
                match plan.request(&mut conn).await {
                    Ok(err) => tally.record(from.elapsed(), err),
                    Err(_) => tally.failed += 1,
                }
                if let (Some(d), Some(e)) = (due.as_mut(), every) {
                    *d += e;
                }
            }
            (conn, tally)
        }));
    }
    let mut conns = Vec::with_capacity(tasks.len());
    let mut all = Tally::new();
    for t in tasks {
        if let Ok((c, tally)) = t.await {
            conns.push(c);
            all.add(&tally);
        }
    }
    (conns, all)
}
