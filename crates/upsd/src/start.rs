//! Start-up, as stock upsd does it: `-c` signals the running upsd; otherwise read upsd.conf,
//! bind the listeners, drop root, read ups.conf and upsd.users, go to the background, write
//! the PID file and serve until a stop signal.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use nut_daemon::cli::{Chain, DaemonFlags};
use nut_daemon::PidFile;

use crate::config::{self, ServerConf};
use crate::server::{self, Prepared};
use crate::{tls, Error};

/// The command line, as the binary parsed it.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What every daemon takes: `-c`/`-P` signal the running upsd (`reload` or `stop`)
    /// instead of starting, `-D`/`-F`/`-B` pick the debug level and the foreground (`-FF`:
    /// and still write the PID file), `-u` the user to run as after binding.
    pub daemon: DaemonFlags,
    /// `-r <dir>`: chroot here after reading upsd.conf.
    pub chroot: Option<PathBuf>,
    /// `-q` count: raise the log threshold.
    pub quiet: u8,
    /// `-4`: IPv4 only.
    pub ipv4: bool,
    /// `-6`: IPv6 only.
    pub ipv6: bool,
}

/// What `-c` knows.
const COMMANDS: [(&str, Signal); 2] = [("reload", Signal::SIGHUP), ("stop", Signal::SIGTERM)];

/// Run upsd as `options` say, until a stop signal (or, with `-c`, until the signal is sent).
pub fn run(options: &Options) -> Result<(), Error> {
    let flags = &options.daemon;
    let level = nut_daemon::log_level(flags.debug, options.quiet);
    let foreground = flags.stays_foreground();
    if let Some(command) = &flags.command {
        nut_daemon::init_logging("upsd", Some("UPSD_LOG"), level, false);
        return send_command(command, flags.pid, &nut_daemon::confpath());
    }
    let confpath = nut_daemon::conf_dir()?;
    nut_daemon::init_logging("upsd", Some("UPSD_LOG"), level, !foreground);
    let user = match (&flags.user, nix::unistd::Uid::effective().is_root()) {
        (Some(name), _) => Some(nut_daemon::lookup_user(name)?),
        (None, true) => Some(nut_daemon::lookup_user(nut_daemon::DEFAULT_USER)?),
        (None, false) => None,
    };
    let conf = config::load_server_conf(&confpath)?;
    config::warn_perms(&confpath, &conf);
    if let Some(dir) = &options.chroot {
        nix::unistd::chroot(dir).map_err(|source| Error::Chroot {
            dir: dir.clone(),
            source,
        })?;
        std::env::set_current_dir("/").map_err(Error::ChrootDir)?;
    }
    let listeners = bind(&conf, options.ipv4, options.ipv6)?;
    let http_listeners = bind_http(
        &conf.upsd.listen_http,
        options.ipv4,
        options.ipv6,
        "LISTEN_HTTP ",
    )?;
    let https_listeners = bind_http(
        &conf.upsd.listen_https,
        options.ipv4,
        options.ipv6,
        "LISTEN_HTTPS ",
    )?;
    if let Some(user) = &user {
        nut_daemon::become_user(user, None)?;
    }
    std::fs::read_dir(&conf.statepath).map_err(|source| Error::Statepath {
        path: conf.statepath.clone(),
        source,
    })?;
    let upses = config::load_upses(&confpath, conf.upsd.allow_no_device)?;
    let descriptions = config::load_descriptions(&conf.datapath);
    let users = config::load_users(&confpath)?;
    let tls = match &conf.upsd.certfile {
        Some(file) => Some(tls::acceptor(
            file,
            conf.upsd.certrequest,
            conf.upsd.certpath.as_deref(),
        )?),
        None => None,
    };
    if conf.upsd.certfile.is_none() && conf.upsd.certpath.is_some() {
        tracing::warn!("CERTPATH without CERTFILE: STARTTLS stays off (give CERTFILE, a PEM with certificate and key)");
    }
    let maxconn = fit_maxconn(conf.upsd.maxconn, listeners.len(), upses.len());
    if !foreground {
        nix::unistd::daemon(true, false).map_err(Error::Background)?;
    }
    let pid_file = if !foreground || flags.foreground > 1 {
        Some(PidFile::write_now(&pidfile(&conf.statepath))?)
    } else {
        None
    };
    let prepared = Prepared {
        conf,
        confpath,
        upses,
        users,
        descriptions,
        tls,
        listeners,
        http_listeners,
        https_listeners,
        maxconn,
    };
    // One thread, as stock upsd: every request takes the one server lock anyway, and a
    // second worker only adds wake-ups, handoffs between threads and a malloc arena.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let result = runtime.block_on(server::run(prepared));
    if let Some(file) = pid_file {
        file.remove();
    }
    result
}

fn pidfile(statepath: &Path) -> PathBuf {
    nut_daemon::altpidpath_for(statepath).join("upsd.pid")
}

/// `-c reload|stop`: signal the running upsd, found by the PID file in upsd.conf's STATEPATH.
fn send_command(command: &str, pid: Option<i32>, confpath: &Path) -> Result<(), Error> {
    let statepath = config::load_server_conf(confpath)
        .map(|c| c.statepath)
        .unwrap_or_else(|_| nut_daemon::statepath());
    nut_daemon::signal_command(command, &COMMANDS, &pidfile(&statepath), pid)?;
    Ok(())
}

/// Bind the listeners. Like 2.8.0, entries are bound last-declared first and only a failure
/// of that first one is fatal; the others are logged. Unlike 2.8.0, an IPv6 listener whose
/// port also has an IPv4 listener is IPv6-only, so `LISTEN ::` and `LISTEN 0.0.0.0` on one
/// port both bind (stock's `::` takes IPv4 too on Linux, and the second bind fails).
fn bind(conf: &ServerConf, ipv4: bool, ipv6: bool) -> Result<Vec<TcpListener>, Error> {
    let mut wanted: Vec<(String, u16)> = conf
        .upsd
        .listen
        .iter()
        .map(|l| (l.addr.clone(), l.port))
        .collect();
    if wanted.is_empty() {
        let port = nut_proto::DEFAULT_PORT;
        if !ipv4 || ipv6 {
            wanted.push(("::1".into(), port));
        }
        if !ipv6 || ipv4 {
            wanted.push(("127.0.0.1".into(), port));
        }
    }
    bind_all(&wanted, ipv4, ipv6, "")
}

/// Bind the `LISTEN_HTTP` (or `LISTEN_HTTPS`, as `what` says) listeners: none unless
/// configured. Each one is needed: a failure is fatal, named with the directive.
fn bind_http(
    listen: &[nut_conf::upsd_conf::Listen],
    ipv4: bool,
    ipv6: bool,
    what: &'static str,
) -> Result<Vec<TcpListener>, Error> {
    let wanted: Vec<(String, u16)> = listen.iter().map(|l| (l.addr.clone(), l.port)).collect();
    bind_all(&wanted, ipv4, ipv6, what)
}

/// Bind `wanted` last first. `what` is empty for LISTEN (only the first bound is needed) and
/// names the directive otherwise (every one is needed).
fn bind_all(
    wanted: &[(String, u16)],
    ipv4: bool,
    ipv6: bool,
    what: &'static str,
) -> Result<Vec<TcpListener>, Error> {
    let family_ok = |a: &SocketAddr| match (ipv4, ipv6) {
        (true, false) => a.is_ipv4(),
        (false, true) => a.is_ipv6(),
        _ => true,
    };
    let v4_ports: Vec<u16> = wanted
        .iter()
        .filter_map(|(addr, port)| (addr.as_str(), *port).to_socket_addrs().ok())
        .flatten()
        .filter(|a| a.is_ipv4() && family_ok(a))
        .map(|a| a.port())
        .collect();
    let mut listeners = Vec::new();
    for (i, (addr, port)) in wanted.iter().rev().enumerate() {
        let bound = (addr.as_str(), *port)
            .to_socket_addrs()
            .map_err(|source| Error::Resolve {
                what: if what.is_empty() { "LISTEN " } else { what },
                addr: addr.clone(),
                port: *port,
                source,
            })
            .and_then(|addrs| {
                let mut last = None;
                for a in addrs.filter(family_ok) {
                    let bound = if a.is_ipv6() && v4_ports.contains(&a.port()) {
                        bind_v6only(a)
                    } else {
                        TcpListener::bind(a)
                    };
                    match bound {
                        Ok(l) => return Ok(l),
                        Err(e) => last = Some(e),
                    }
                }
                Err(match last {
                    Some(source) => Error::Bind {
                        what,
                        addr: addr.clone(),
                        port: *port,
                        source,
                    },
                    None => Error::NoAddress {
                        what,
                        addr: addr.clone(),
                    },
                })
            });
        match bound {
            Ok(l) => {
                tracing::info!("listening on {what}{addr} port {port}");
                listeners.push(l);
            }
            Err(e) if i == 0 || !what.is_empty() => return Err(e),
            Err(e) => tracing::warn!("not listening on {addr} port {port}: {}", Chain(&e)),
        }
    }
    Ok(listeners)
}

/// A listener on the IPv6 address `a` that takes no IPv4 connections (IPV6_V6ONLY).
fn bind_v6only(a: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV6, Type::STREAM, None)?;
    s.set_only_v6(true)?;
    s.set_reuse_address(true)?;
    s.bind(&a.into())?;
    s.listen(128)?;
    Ok(s.into())
}

/// Descriptors upsd needs beside its clients': stdio, the runtime's, syslog, the PID file
/// and the files a reload reads, with room to spare, plus the listeners and a socket per
/// driver (two while one reconnects).
fn reserved_fds(listeners: usize, upses: usize) -> u64 {
    32 + listeners as u64 + 2 * upses as u64
}

/// MAXCONN as the open-file limit can hold it. The default is the soft limit found at start
/// (stock's default); the soft limit is raised towards the hard one as far as MAXCONN and
/// upsd's own descriptors need. If even that is short, fewer clients are served at once
/// (the others wait in the listen queue, as past MAXCONN) and the log says so once, rather
/// than accept failing with EMFILE.
fn fit_maxconn(configured: Option<usize>, listeners: usize, upses: usize) -> usize {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return configured.unwrap_or(1024);
    };
    let maxconn = configured.unwrap_or(usize::try_from(soft).unwrap_or(usize::MAX));
    let reserve = reserved_fds(listeners, upses);
    let need = (maxconn as u64).saturating_add(reserve);
    let mut limit = soft;
    if soft < need {
        let raised = need.min(hard);
        match setrlimit(Resource::RLIMIT_NOFILE, raised, hard) {
            Ok(()) => limit = raised,
            Err(e) => {
                tracing::warn!("Can't raise the open-file limit from {soft} to {raised}: {e}")
            }
        }
    }
    if limit >= need {
        return maxconn;
    }
    let held = usize::try_from(limit.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(1);
    let line = format!(
        "MAXCONN {maxconn}{} needs {need} open files, but the limit is {limit} (hard limit {hard}): serving at most {held} clients at once (raise the limit, e.g. LimitNOFILE= in the unit, or lower MAXCONN)",
        if configured.is_none() { " (the default)" } else { "" },
    );
    // The default (the soft limit itself) never fits a hard limit equal to it: no warning.
    if configured.is_some() {
        tracing::warn!("{line}");
    } else {
        tracing::info!("{line}");
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use nut_daemon::cli::Chain;

    fn conf(text: &str) -> ServerConf {
        ServerConf {
            upsd: nut_conf::upsd_conf::parse(text.as_bytes(), Path::new("upsd.conf")).unwrap(),
            statepath: PathBuf::from("/nonexistent"),
            datapath: PathBuf::from("/nonexistent"),
        }
    }

    #[test]
    fn ipv4_and_ipv6_wildcards_on_one_port_both_bind() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let Ok(probe) = TcpListener::bind(("::1", 0)) else {
            return; // no IPv6 on this host
        };
        drop(probe);
        let l = bind(
            &conf(&format!("LISTEN :: {port}\nLISTEN 0.0.0.0 {port}\n")),
            false,
            false,
        )
        .unwrap();
        let addrs: Vec<String> = l
            .iter()
            .map(|l| l.local_addr().unwrap().to_string())
            .collect();
        assert_eq!(addrs, [format!("0.0.0.0:{port}"), format!("[::]:{port}")]);
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::net::TcpStream::connect(("::1", port)).unwrap();
    }

    #[test]
    fn every_listen_http_must_bind_and_is_named() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let c = conf(&format!("LISTEN_HTTP 127.0.0.1 {port}\n"));
        let e = bind_http(&c.upsd.listen_http, false, false, "LISTEN_HTTP ").unwrap_err();
        assert_eq!(
            Chain(&e).to_string(),
            format!(
                "binding LISTEN_HTTP 127.0.0.1 port {port}: Address already in use (os error 98)"
            )
        );
        let c = conf("LISTEN 127.0.0.1 1\n");
        assert!(bind_http(&c.upsd.listen_http, false, false, "LISTEN_HTTP ")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_listen_that_cannot_be_bound_is_named() {
        let e = bind(&conf("LISTEN ::1 3493\n"), true, false).unwrap_err();
        assert_eq!(Chain(&e).to_string(), "no usable address for ::1");
        let e = bind(&conf("LISTEN not.a.host.invalid 3493\n"), false, false).unwrap_err();
        assert!(
            Chain(&e)
                .to_string()
                .starts_with("resolving LISTEN not.a.host.invalid 3493: "),
            "{}",
            Chain(&e)
        );
    }
}
