//! Start-up: the configuration, the device backend, the tree a driver starts serving
//! ([`init_tree`]), `-d` (dump and exit), and serving: the socket (replacing a running
//! instance), the background, the PID file, the poll loop, reload and exit.

use std::path::Path;
use std::time::{Duration, Instant};

use nut_state::Tree;

use crate::config::{DriverConfig, DriverOption, Setting};
use crate::dstate::Core;
use crate::server::{self, LoopConfig, Stop};
use crate::static_dev::StaticBackend;
use crate::{control, Backend, BackendError, DriverInfo, Error, OpenFor, VERSION};

/// The configuration of `upsname`: its ups.conf section (none for `-s`, `standalone`) with the
/// `-x` settings after it.
pub(crate) fn load_config(
    progname: &str,
    upsname: &str,
    standalone: bool,
    xargs: &[Setting],
    options: &[DriverOption],
) -> Result<DriverConfig, Error> {
    let conf = if standalone {
        None
    } else {
        Some(nut_conf::ups_conf::load(&nut_daemon::conf_file(
            "ups.conf",
        )?)?)
    };
    DriverConfig::build(progname, upsname, conf.as_ref(), xargs, options)
}

/// The backend the configuration selects: `backend = static:<file>` serves a `.dev` file;
/// otherwise the driver opens its device.
pub(crate) fn open_backend(
    driver: &DriverInfo,
    cfg: &DriverConfig,
    purpose: OpenFor,
) -> Result<Box<dyn Backend>, Error> {
    if let Some(b) = cfg.get("backend") {
        return match b.strip_prefix("static:") {
            Some(file) if !file.is_empty() => Ok(Box::new(StaticBackend::new(Path::new(file)))),
            _ => Err(Error::UnknownBackend(b.to_string())),
        };
    }
    (driver.open)(cfg, purpose).map_err(Error::Open)
}

/// What [`init_tree`] gives: the tree, and how the first update went (a driver whose first
/// update failed starts serving with its data stale).
#[derive(Debug)]
pub struct Started {
    /// The tree to serve.
    pub tree: Tree,
    /// The result of the first [`Backend::update`].
    pub first_update: Result<(), BackendError>,
}

/// The tree a driver starts serving, as NUT's `main.c` builds it: the configuration
/// (`driver.parameter.*` ...), `device.type`, what the backend's init publishes,
/// `driver.version`, `driver.version.internal` and `driver.name`, the first update, then
/// `device.mfr` / `device.model` / `device.serial` copied from `ups.*`. An init error stops
/// the driver.
pub fn init_tree(
    backend: &mut dyn Backend,
    cfg: &DriverConfig,
    driver: &DriverInfo,
) -> Result<Started, BackendError> {
    let mut tree = Tree::new();
    cfg.publish(&mut tree);
    tree.set_info("device.type", "ups");
    backend.init(&mut tree, cfg)?;
    tree.set_info("driver.version", VERSION);
    tree.set_info("driver.version.internal", driver.version);
    tree.set_info("driver.name", &cfg.progname);
    let first_update = backend.update(&mut tree, Instant::now());
    for (ups, dev) in [
        ("ups.mfr", "device.mfr"),
        ("ups.model", "device.model"),
        ("ups.serial", "device.serial"),
    ] {
        if let Some(v) = tree.get(ups).map(|v| v.raw().to_string()) {
            tree.set_info(dev, &v);
        }
    }
    Ok(Started { tree, first_update })
}

/// `-d <n>`: `n` more updates, one per poll interval, then the tree as `upsc` prints it.
pub(crate) fn dump(backend: &mut dyn Backend, mut tree: Tree, n: u32, poll: Duration) {
    for _ in 0..n {
        std::thread::sleep(poll);
        if let Err(e) = backend.update(&mut tree, Instant::now()) {
            tracing::warn!("update failed: {e}");
        }
    }
    print!("{}", upsc_dump(&tree));
}

/// The tree as `upsc` prints it (`name: value` lines).
fn upsc_dump(tree: &Tree) -> String {
    let mut s = String::new();
    for v in tree.vars() {
        s.push_str(v.name());
        s.push_str(": ");
        s.push_str(v.raw());
        s.push('\n');
    }
    s
}

/// How to serve, from the command line.
#[derive(Debug)]
pub(crate) struct Serving<'a> {
    pub(crate) progname: &'a str,
    pub(crate) upsname: &'a str,
    /// `-s`: no ups.conf section to re-read on reload.
    pub(crate) standalone: bool,
    pub(crate) xargs: &'a [Setting],
    pub(crate) options: &'a [DriverOption],
    pub(crate) sock: &'a Path,
    /// Where to write the PID file, if one is written.
    pub(crate) pidfile: Option<&'a Path>,
    /// Go to the background once the socket exists.
    pub(crate) background: bool,
    pub(crate) poll: Duration,
    pub(crate) debug: i32,
}

/// Create the socket (asking a running instance to leave first), go to the background, write
/// the PID file, then serve until a signal or `driver.exit`; the socket and PID file are
/// removed on the way out.
pub(crate) fn serve(
    backend: &mut dyn Backend,
    started: Started,
    s: &Serving<'_>,
) -> Result<(), Error> {
    control::stop_previous_instance(s.sock);
    let listener = server::bind(s.sock)
        .map_err(|e| Error::io(format!("Can't create socket {}", s.sock.display()), e))?;
    tracing::debug!("socket {} open", s.sock.display());
    if s.background {
        nix::unistd::daemon(true, false)
            .map_err(|e| Error::io("going to the background", e.into()))?;
    }
    let pidfile = s.pidfile.map(nut_daemon::PidFile::write_now).transpose()?;
    server::setup_signals().map_err(|e| Error::io("installing signal handlers", e.into()))?;

    let mut core = Core::new(started.tree, std::process::id(), s.debug);
    if started.first_update.is_ok() {
        core.set_stale(false);
    }
    let mut notifier = nut_daemon::Notifier::from_env();
    let ready_status = match &started.first_update {
        Ok(()) => format!("{} serving {}", s.progname, s.upsname),
        Err(e) => format!("{} serving {} (no data yet: {e})", s.progname, s.upsname),
    };
    let mut on_reload = |core: &mut Core| -> Duration {
        match load_config(s.progname, s.upsname, s.standalone, s.xargs, s.options) {
            Ok(c) => {
                core.with_tree(|t| c.publish(t));
                Duration::from_secs(c.poll_interval)
            }
            Err(e) => {
                tracing::error!("reload: {e}");
                s.poll
            }
        }
    };
    let stop = server::run(
        &mut core,
        backend,
        listener,
        LoopConfig {
            poll_interval: s.poll,
            on_reload: &mut on_reload,
            notifier: &mut notifier,
            ready_status: &ready_status,
        },
    );
    notifier.stopping();
    let _ = std::fs::remove_file(s.sock);
    if let Some(p) = pidfile {
        p.remove();
    }
    match stop {
        Stop::Signal(sig) => tracing::info!("Signal {sig}: exiting"),
        Stop::Requested => tracing::info!("exiting on request (driver.exit)"),
        Stop::Fatal(e) => {
            return Err(Error::io(format!("driver socket {}", s.sock.display()), e));
        }
    }
    Ok(())
}
