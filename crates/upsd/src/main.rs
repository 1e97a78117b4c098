//! The `upsd` binary: NUT's command line and start-up sequence (read upsd.conf, bind, drop
//! root, read ups.conf and upsd.users, go to the background, serve).

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Parser};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use upsd::config::{self, ServerConf};
use upsd::server::{self, Prepared};
use upsd::tls;

/// Command line as stock upsd reads it.
#[derive(Parser, Debug)]
#[command(name = "upsd", disable_help_flag = true, disable_version_flag = true)]
struct Args {
    /// Send a command to the running upsd: reload or stop.
    #[arg(short = 'c')]
    command: Option<String>,
    /// With -c: signal this PID instead of the one in the PID file.
    #[arg(short = 'P')]
    pid: Option<i32>,
    /// Raise the debug level (and stay in the foreground).
    #[arg(short = 'D', action = ArgAction::Count)]
    debug: u8,
    /// Stay in the foreground; twice: and still write the PID file.
    #[arg(short = 'F', action = ArgAction::Count)]
    foreground: u8,
    /// Go to the background even when debugging.
    #[arg(short = 'B')]
    background: bool,
    #[arg(short = 'h')]
    help: bool,
    /// chroot to this directory after reading upsd.conf.
    #[arg(short = 'r')]
    chroot: Option<PathBuf>,
    /// Raise the log threshold.
    #[arg(short = 'q', action = ArgAction::Count)]
    quiet: u8,
    /// Run as this user after binding (when started as root).
    #[arg(short = 'u')]
    user: Option<String>,
    #[arg(short = 'V')]
    version: bool,
    #[arg(short = '4')]
    ipv4: bool,
    #[arg(short = '6')]
    ipv6: bool,
    /// Removed in NUT: listen addresses come from LISTEN in upsd.conf.
    #[arg(short = 'i', hide = true)]
    old_i: Option<String>,
    #[arg(short = 'p', hide = true)]
    old_p: Option<String>,
}

const USAGE: &str = "\
Network server for UPS data (nut-rs).

usage: upsd [OPTIONS]

  -c <command>	send <command> via signal to background process
		commands:
		 - reload: reread configuration files
		 - stop: stop process and exit
  -P <pid>	send the signal above to specified PID (bypassing PID file)
  -D		raise debugging level (and stay foreground by default)
  -F		stay foregrounded even if no debugging is enabled
  -FF		stay foregrounded and still save the PID file
  -B		stay backgrounded even if debugging is bumped
  -h		display this help
  -r <dir>	chroots to <dir>
  -q		raise log level threshold
  -u <user>	switch to <user> (if started as root)
  -V		display the version of this software
  -4		IPv4 only
  -6		IPv6 only
";

fn version_line() -> String {
    format!("Network UPS Tools upsd {}", upsd::cmd::SERVER_VERSION)
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("upsd: {}", e.kind());
            eprint!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    if args.help {
        println!("{}\n{USAGE}", version_line());
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("{}", version_line());
        return ExitCode::SUCCESS;
    }
    if args.old_i.is_some() || args.old_p.is_some() {
        eprintln!("upsd: -i and -p are not supported any more; use LISTEN in upsd.conf");
        return ExitCode::FAILURE;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("upsd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Log level for `-D` (repeatable) and `-q`.
fn log_level(debug: u8, quiet: u8) -> &'static str {
    match (debug, quiet) {
        (0, q) if q > 0 => "warn",
        (0, _) => "info",
        (1, _) => "debug",
        _ => "trace",
    }
}

fn init_logging(debug: u8, quiet: u8, to_syslog: bool) {
    nut_daemon::init_logging("upsd", Some("UPSD_LOG"), log_level(debug, quiet), to_syslog);
}

fn pidfile(statepath: &Path) -> PathBuf {
    config::pidpath(statepath).join("upsd.pid")
}

/// `-c reload|stop`: signal the running upsd.
fn send_command(args: &Args, confpath: &Path) -> Result<()> {
    let cmd = args.command.as_deref().unwrap_or_default();
    let signal = match cmd {
        "reload" => Signal::SIGHUP,
        "stop" => Signal::SIGTERM,
        other => bail!("unknown command '{other}' for -c (use reload or stop)"),
    };
    let pid = match args.pid {
        Some(p) => p,
        None => {
            let statepath = config::load_server_conf(confpath)
                .map(|c| c.statepath)
                .unwrap_or_else(|_| {
                    std::env::var_os("NUT_STATEPATH")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_STATEPATH))
                });
            nut_daemon::read_pid(&pidfile(&statepath))?
        }
    };
    kill(Pid::from_raw(pid), signal).with_context(|| format!("signalling PID {pid}"))?;
    Ok(())
}

/// Bind the listeners. Like 2.8.0, entries are bound last-declared first and only a failure
/// of that first one is fatal; the others are logged.
fn bind(conf: &ServerConf, args: &Args) -> Result<Vec<TcpListener>> {
    let family_ok = |a: &SocketAddr| match (args.ipv4, args.ipv6) {
        (true, false) => a.is_ipv4(),
        (false, true) => a.is_ipv6(),
        _ => true,
    };
    let mut wanted: Vec<(String, u16)> = conf
        .upsd
        .listen
        .iter()
        .map(|l| (l.addr.clone(), l.port))
        .collect();
    if wanted.is_empty() {
        let port = nut_proto::DEFAULT_PORT;
        if !args.ipv4 || args.ipv6 {
            wanted.push(("::1".into(), port));
        }
        if !args.ipv6 || args.ipv4 {
            wanted.push(("127.0.0.1".into(), port));
        }
    }
    let mut listeners = Vec::new();
    for (i, (addr, port)) in wanted.iter().rev().enumerate() {
        let bound = (addr.as_str(), *port)
            .to_socket_addrs()
            .with_context(|| format!("resolving LISTEN {addr} {port}"))
            .and_then(|addrs| {
                let mut last = None;
                for a in addrs.filter(family_ok) {
                    match TcpListener::bind(a) {
                        Ok(l) => return Ok(l),
                        Err(e) => last = Some(e),
                    }
                }
                match last {
                    Some(e) => Err(e).with_context(|| format!("binding {addr} port {port}")),
                    None => bail!("no usable address for {addr}"),
                }
            });
        match bound {
            Ok(l) => {
                tracing::info!("listening on {addr} port {port}");
                listeners.push(l);
            }
            Err(e) if i == 0 => return Err(e),
            Err(e) => tracing::warn!("not listening on {addr} port {port}: {e:#}"),
        }
    }
    Ok(listeners)
}

fn open_files_limit() -> usize {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft as usize)
        .unwrap_or(1024)
}

fn run(args: Args) -> Result<()> {
    let confpath = config::confpath();
    let foreground = args.foreground > 0 || (args.debug > 0 && !args.background);
    if args.command.is_some() {
        init_logging(args.debug, args.quiet, false);
        return send_command(&args, &confpath);
    }
    init_logging(args.debug, args.quiet, !foreground);
    let user = match (&args.user, nix::unistd::Uid::effective().is_root()) {
        (Some(name), _) => Some(nut_daemon::lookup_user(name)?),
        (None, true) => Some(nut_daemon::lookup_user(nut_daemon::DEFAULT_USER)?),
        (None, false) => None,
    };
    let conf = config::load_server_conf(&confpath)?;
    if let Some(dir) = &args.chroot {
        nix::unistd::chroot(dir).with_context(|| format!("chroot to {}", dir.display()))?;
        std::env::set_current_dir("/").context("chdir / in the chroot")?;
    }
    let listeners = bind(&conf, &args)?;
    if let Some(user) = &user {
        nut_daemon::become_user(user, None)?;
    }
    std::fs::read_dir(&conf.statepath)
        .with_context(|| format!("Can't access STATEPATH {}", conf.statepath.display()))?;
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
    let maxconn = conf.upsd.maxconn.unwrap_or_else(open_files_limit);
    if !foreground {
        nix::unistd::daemon(true, false).context("going to the background")?;
    }
    let pid_file = (!foreground || args.foreground > 1).then(|| pidfile(&conf.statepath));
    if let Some(file) = &pid_file {
        std::fs::write(file, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing PID file {}", file.display()))?;
    }
    let prepared = Prepared {
        conf,
        confpath,
        upses,
        users,
        descriptions,
        tls,
        listeners,
        maxconn,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(server::run(prepared));
    if let Some(file) = &pid_file {
        let _ = std::fs::remove_file(file);
    }
    result
}
