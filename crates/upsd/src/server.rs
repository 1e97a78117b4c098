//! Wiring: build the shared state from the config, start a link per UPS and an accept loop
//! per listener, and apply reloads without dropping connected clients.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nut_conf::upsd_users::Users;
use nut_daemon::cli::Chain;
use nut_daemon::ratelimit::RateLimit;
use nut_daemon::Notifier;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::signal::{self, unix::SignalKind};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::allow::Verdict;
use crate::config::{self, ServerConf, UpsDef};
use crate::driver::{self, lock};
use crate::state::{Descriptions, Server, Ups};
use crate::Error;

/// Everything start-up has prepared.
pub(crate) struct Prepared {
    pub(crate) conf: ServerConf,
    pub(crate) confpath: PathBuf,
    pub(crate) upses: Vec<UpsDef>,
    pub(crate) users: Users,
    pub(crate) descriptions: Descriptions,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) listeners: Vec<StdListener>,
    /// `LISTEN_HTTP`'s (none unless configured).
    pub(crate) http_listeners: Vec<StdListener>,
    /// `LISTEN_HTTPS`'s (served with `tls`, which upsd.conf's check makes present).
    pub(crate) https_listeners: Vec<StdListener>,
    pub(crate) maxconn: usize,
}

/// Run until a stop signal. Reload on SIGHUP.
pub(crate) async fn run(p: Prepared) -> Result<(), Error> {
    let statepath = p.conf.statepath.clone();
    let mut server = Server::new();
    server.maxage = p.conf.upsd.maxage;
    server.tracking_delay = p.conf.upsd.trackingdelay;
    server.users = p.users;
    server.descriptions = p.descriptions;
    server.tls = p.tls.as_ref().map(|t| t.config().clone());
    server.allow.set(p.conf.upsd.allow_from.clone());
    let server = Arc::new(Mutex::new(server));
    for def in &p.upses {
        add_ups(&server, &statepath, def, false);
    }
    tokio::spawn(crate::client::sweep_idle(server.clone()));
    tokio::spawn(crate::fair::rounds());
    let permits = Arc::new(Semaphore::new(p.maxconn.clamp(1, Semaphore::MAX_PERMITS)));
    let bound = |ls: &[StdListener]| -> Vec<SocketAddr> {
        ls.iter().filter_map(|l| l.local_addr().ok()).collect()
    };
    let listeners = crate::mdns::Listeners {
        nut: bound(&p.listeners),
        http: bound(&p.http_listeners),
        https: bound(&p.https_listeners),
    };
    let names = |server: &Arc<Mutex<Server>>| -> Vec<String> {
        lock(server).upses.iter().map(|u| u.name.clone()).collect()
    };
    let addrs: Vec<String> = listeners.nut.iter().map(|a| a.to_string()).collect();
    let status = |server: &Arc<Mutex<Server>>| {
        let n = lock(server).upses.len();
        format!("Serving {n} UPS on {}", addrs.join(" "))
    };
    let mut advertiser = if p.conf.upsd.mdns {
        crate::mdns::Advertiser::start(listeners, &names(&server))
    } else {
        None
    };
    for std_listener in p.listeners {
        let for_client = server.clone();
        spawn_accept_loop(
            &server,
            std_listener,
            &permits,
            "",
            move |stream, peer, permit| {
                let serve = crate::client::serve(for_client.clone(), stream, peer, Some(permit));
                tokio::spawn(serve);
            },
        )?;
    }
    // The status page's chart: sampled only when something can show it.
    if !p.http_listeners.is_empty() || !p.https_listeners.is_empty() {
        tokio::spawn(crate::history::run(server.clone()));
    }
    let http_permits = Arc::new(Semaphore::new(crate::http::MAX_CONNS));
    let plain = p.http_listeners.into_iter().map(|l| (l, None));
    let tls = p.https_listeners.into_iter().map(|l| (l, p.tls.clone()));
    for (std_listener, tls) in plain.chain(tls) {
        let for_client = server.clone();
        spawn_accept_loop(
            &server,
            std_listener,
            &http_permits,
            "HTTP: ",
            move |stream, peer, permit| {
                crate::http::spawn(&for_client, stream, peer, tls.clone(), permit);
            },
        )?;
    }
    let handler = |kind| signal::unix::signal(kind).map_err(Error::Serve);
    let mut hup = handler(SignalKind::hangup())?;
    let mut term = handler(SignalKind::terminate())?;
    let mut int = handler(SignalKind::interrupt())?;
    let mut quit = handler(SignalKind::quit())?;
    let mut notifier = Notifier::from_env();
    notifier.ready(&status(&server));
    // The watchdog is pinged from this loop, after taking the state's lock: a wedged runtime
    // or a lock held forever stops the pings.
    let mut watchdog = tokio::time::interval(
        notifier
            .watchdog_interval()
            .unwrap_or(Duration::from_secs(3600)),
    );
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = hup.recv() => {
                notifier.reloading();
                reload(&server, &p.confpath, &statepath);
                if let Some(a) = advertiser.as_mut() {
                    a.update(&names(&server));
                }
                notifier.ready(&status(&server));
            }
            _ = watchdog.tick() => {
                drop(lock(&server));
                notifier.watchdog_tick();
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = quit.recv() => break,
        }
    }
    notifier.stopping();
    tracing::info!("Signal received: shutting down");
    if let Some(a) = advertiser {
        a.stop();
    }
    Ok(())
}

fn add_ups(server: &Arc<Mutex<Server>>, statepath: &Path, def: &UpsDef, first: bool) {
    let socket = statepath.join(&def.socket_name);
    let mut ups = Ups::new(&def.name, def.desc.clone(), socket.clone());
    let mut s = lock(server);
    ups.generation = s.next_generation();
    let generation = ups.generation;
    if first {
        s.upses.insert(0, ups);
    } else {
        s.upses.push(ups);
    }
    drop(s);
    tokio::spawn(driver::run(
        server.clone(),
        def.name.clone(),
        generation,
        socket,
    ));
}

/// The first pause after a failed accept (out of descriptors, memory); it doubles up to
/// [`ACCEPT_BACKOFF_MAX`] while accept keeps failing.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// At most one "accept failed" line per this interval.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Hand a bound listener to the runtime and run its [`accept_loop`].
fn spawn_accept_loop(
    server: &Arc<Mutex<Server>>,
    std_listener: std::net::TcpListener,
    permits: &Arc<Semaphore>,
    what: &'static str,
    serve: impl FnMut(TcpStream, SocketAddr, OwnedSemaphorePermit) + Send + 'static,
) -> Result<(), Error> {
    std_listener.set_nonblocking(true).map_err(Error::Serve)?;
    // Every reply goes out in one write, and a small one must not wait for the ACK of the
    // last: TCP_NODELAY. Set on the listener, Linux gives it to every socket accepted from
    // it, which saves a system call per connection.
    socket2::SockRef::from(&std_listener)
        .set_tcp_nodelay(true)
        .map_err(Error::Serve)?;
    let listener = TcpListener::from_std(std_listener).map_err(Error::Serve)?;
    tokio::spawn(accept_loop(
        server.clone(),
        listener,
        permits.clone(),
        what,
        serve,
    ));
    Ok(())
}

/// Accept connections on `listener` until upsd stops, each handed to `serve` with a permit
/// of `permits`; peers outside `ALLOW_FROM` are closed before a byte is read or written.
/// `what` starts the log lines (`""` for NUT, `"HTTP: "`).
pub(crate) async fn accept_loop(
    server: Arc<Mutex<Server>>,
    listener: TcpListener,
    permits: Arc<Semaphore>,
    what: &'static str,
    mut serve: impl FnMut(TcpStream, SocketAddr, OwnedSemaphorePermit),
) {
    let mut backoff = ACCEPT_BACKOFF;
    let mut accept_log = RateLimit::new(ACCEPT_LOG_EVERY);
    loop {
        // With every permit taken, new clients wait in the listen backlog.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                backoff = ACCEPT_BACKOFF;
                // ALLOW_FROM: closed before a byte is read or written.
                let verdict = lock(&server).allow.check(peer.ip(), crate::clock::now());
                match verdict {
                    Verdict::Admit => {}
                    Verdict::RefuseAndLog => {
                        tracing::warn!("{what}{}", crate::allow::refusal(peer.ip()));
                        continue;
                    }
                    Verdict::Refuse => continue,
                }
                serve(stream, peer, permit);
            }
            Err(e) => {
                // The connection stays in the listen queue (EMFILE and the like): wait,
                // longer each time, rather than spin on it.
                if let Some(held) = accept_log.check(std::time::Instant::now()) {
                    tracing::warn!(
                        "{what}accept failed: {e}; retrying in {} ms{held}",
                        backoff.as_millis()
                    );
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// A driver link a reload must start.
enum Start {
    New(UpsDef),
    Reconnect(String, u64, PathBuf),
}

/// Re-read upsd.conf, ups.conf and upsd.users. If any of them is bad, nothing changes and
/// the log says why; connected clients stay connected unless their UPS was removed.
pub(crate) fn reload(server: &Arc<Mutex<Server>>, confpath: &Path, statepath: &Path) {
    tracing::info!("SIGHUP: reloading configuration");
    let loaded = (|| -> Result<_, Error> {
        let conf = config::load_server_conf(confpath)?;
        let upses = config::load_upses(confpath, conf.upsd.allow_no_device)?;
        let users = config::load_users(confpath)?;
        Ok((conf, upses, users))
    })();
    let (conf, defs, users) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(
                "Reload failed, keeping the running configuration: {}",
                Chain(&e)
            );
            return;
        }
    };
    config::warn_perms(confpath, &conf);
    if conf.statepath != statepath {
        tracing::warn!("STATEPATH changes need a restart of upsd");
    }
    let mut to_start = Vec::new();
    {
        let mut s = lock(server);
        s.maxage = conf.upsd.maxage;
        s.tracking_delay = conf.upsd.trackingdelay;
        s.users = users;
        s.allow.set(conf.upsd.allow_from);
        // Drop sections that are gone, kicking the clients logged into them.
        let removed: Vec<String> = s
            .upses
            .iter()
            .filter(|u| !defs.iter().any(|d| d.name.eq_ignore_ascii_case(&u.name)))
            .map(|u| u.name.clone())
            .collect();
        for name in &removed {
            tracing::info!("Deleting UPS [{name}]");
            for c in &s.clients {
                if c.login_ups
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(name))
                {
                    tracing::info!("Kicking client {} (was on UPS [{name}])", c.addr);
                    c.peer.kick();
                }
            }
            s.upses.retain(|u| !u.name.eq_ignore_ascii_case(name));
        }
        for def in &defs {
            let socket = statepath.join(&def.socket_name);
            let generation = s.next_generation();
            match s.ups_mut(&def.name) {
                Some(ups) => {
                    ups.desc = def.desc.clone();
                    if ups.socket != socket {
                        tracing::info!("Redefined UPS [{}]", ups.name);
                        ups.socket = socket.clone();
                        ups.generation = generation;
                        ups.on_disconnect();
                        ups.dumpdone = false;
                        to_start.push(Start::Reconnect(ups.name.clone(), generation, socket));
                    }
                }
                None => to_start.push(Start::New(def.clone())),
            }
        }
    }
    for start in to_start {
        match start {
            // Sections added by a reload are listed first, as in stock upsd.
            Start::New(def) => add_ups(server, statepath, &def, true),
            Start::Reconnect(name, generation, socket) => {
                tokio::spawn(driver::run(server.clone(), name, generation, socket));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepted sockets have TCP_NODELAY, given by the listener (no call per connection).
    #[tokio::test]
    async fn accepted_connections_have_nodelay() {
        let server = Arc::new(Mutex::new(Server::new()));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let permits = Arc::new(Semaphore::new(4));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        spawn_accept_loop(&server, std_listener, &permits, "", move |stream, _, _| {
            let _ = tx.send(stream.nodelay().unwrap());
        })
        .unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        assert_eq!(rx.recv().await, Some(true));
    }
}
