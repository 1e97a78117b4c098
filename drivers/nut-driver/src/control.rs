//! Acting on a driver from outside: `-k` (kill power: through the running driver when there is
//! one, else by opening the device), `-c <command>` (through the socket, else a signal to the
//! PID of the PID file), and asking a running instance to leave before a new one takes its
//! socket.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nut_state::Tree;

use crate::query::Query;
use crate::startup::open_backend;
use crate::{DriverConfig, DriverInfo, Error, OpenFor};

/// The commands `-c` takes; each is `INSTCMD driver.<command>` on the socket.
const COMMANDS: &[&str] = &[
    "exit",
    "reload",
    "reload-or-exit",
    "reload-or-error",
    "reload-or-restart",
];

/// `-k`: ask a running instance first, else open the device ourselves.
pub(crate) fn killpower(sock: &Path, cfg: &DriverConfig, driver: &DriverInfo) -> Result<(), Error> {
    match Query::connect(sock) {
        Ok(mut q) => {
            let r = q
                .set("driver.flag.allow_killpower", "1", Duration::from_secs(2))
                .and_then(|_| q.instcmd("driver.killpower", Duration::from_secs(30)));
            match r {
                Ok(0) => {
                    tracing::info!("the running driver shut the UPS down");
                    return Ok(());
                }
                Ok(n) => return Err(Error::Shutdown(format!("the running driver answered {n}"))),
                Err(e) => tracing::info!(
                    "no answer from the running driver ({e}); trying the device directly"
                ),
            }
        }
        Err(e) => tracing::debug!("{e}; opening the device directly"),
    }
    let mut backend = open_backend(driver, cfg, OpenFor::KillPower)?;
    let mut tree = Tree::new();
    cfg.publish(&mut tree);
    backend.init(&mut tree, cfg)?;
    tracing::warn!("Initiating UPS shutdown");
    backend
        .shutdown(&mut tree)
        .map_err(|e| Error::Shutdown(e.to_string()))
}

/// `-c <command>`: `INSTCMD driver.<command>` over the socket, else (for `exit`) SIGTERM to
/// `pid` or the PID of `pidfile`.
pub(crate) fn send_command(
    sock: &Path,
    pidfile: &Path,
    cmd: &str,
    pid: Option<i32>,
) -> Result<(), Error> {
    if !COMMANDS.contains(&cmd) {
        return Err(Error::Usage(format!(
            "Error: unknown argument to option -c: {cmd}"
        )));
    }
    let instcmd = format!("driver.{cmd}");
    match Query::connect(sock).and_then(|mut q| q.instcmd(&instcmd, Duration::from_secs(15))) {
        Ok(0) => return Ok(()),
        Ok(code) => {
            return Err(Error::Refused {
                request: format!("INSTCMD {instcmd}"),
                code,
            })
        }
        Err(e) => tracing::info!("{e}; falling back to the PID file"),
    }
    if cmd != "exit" {
        return Err(Error::Unreachable(sock.to_path_buf()));
    }
    nut_daemon::signal_command(cmd, &[("exit", Signal::SIGTERM)], pidfile, pid)?;
    Ok(())
}

/// A driver already serving this UPS is asked to exit (NUT 2.8.3+ behaviour; 2.8.0 signals
/// the PID of its PID file) before its socket is replaced.
pub(crate) fn stop_previous_instance(sock: &Path) {
    let Ok(mut q) = Query::connect(sock) else {
        return;
    };
    tracing::warn!(
        "Duplicate driver instance detected (socket {} answers)! Terminating other driver!",
        sock.display()
    );
    let _ = q.instcmd("driver.exit", Duration::from_secs(5));
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) && Query::connect(sock).is_ok() {
        std::thread::sleep(Duration::from_millis(50));
    }
}
