//! The control socket (`--control <path>`): a Unix stream socket taking one command line per
//! connection ([`crate::faults`] lists them) and answering one line: `ok ...`, the status, or
//! `error: ...`. [`send`] is the client (`ups-emulator ctl <path> <command>`).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nut_hid_sim::{Fault, Unit};

use crate::faults::Command;
use crate::server::Shared;
use crate::Error;

/// How long the client waits for an answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Listens on `path` (a stale socket file there is replaced) and answers commands on a thread
/// of its own, for the life of the process.
pub fn listen(path: &Path, unit: Unit, shared: Arc<Shared>) -> Result<(), Error> {
    let err = |source| Error::File {
        what: "--control",
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        std::fs::remove_file(path).map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            // One client's trouble is its own: the next one is served.
            let _ = serve_one(conn, &unit, &shared);
        }
    });
    Ok(())
}

fn serve_one(conn: UnixStream, unit: &Unit, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line)?;
    let answer = answer(line.trim(), unit, shared);
    (&conn).write_all(format!("{answer}\n").as_bytes())
}

/// The answer to one command line.
pub fn answer(line: &str, unit: &Unit, shared: &Shared) -> String {
    let cmd = match Command::parse(line) {
        Ok(c) => c,
        Err(e) => return format!("error: {e}"),
    };
    match cmd {
        Command::Unplug => {
            unit.lock().inject(Fault::Vanish {
                for_: Duration::MAX,
            });
            "ok unplugged".into()
        }
        Command::Replug { serial } => {
            let mut u = unit.lock();
            if let Some(s) = &serial {
                u.set_serial(s);
            }
            u.inject(Fault::ComeBack);
            let present = u.present();
            drop(u);
            shared.request_replug();
            if present {
                "ok replugged".into()
            } else {
                "ok replug pending: the unit has no power (no mains, output off)".into()
            }
        }
        Command::Mains(present) => {
            let word = if present { "on" } else { "off" };
            let result = unit.lock().set_mains(present);
            match result {
                Ok(()) => {
                    // (the interrupt report it queued goes out now)
                    shared.wake();
                    format!("ok mains {word}")
                }
                Err(e) => format!("error: mains {word}: {e}"),
            }
        }
        Command::Fault(rule) => {
            shared.faults().add(rule);
            format!("ok {rule}")
        }
        Command::Clear => {
            shared.faults().clear();
            "ok cleared".into()
        }
        Command::Status => status(unit, shared),
    }
}

/// `present=yes attached=0 output=on mains=yes serial=9B2019A14274 faults=none`.
pub fn status(unit: &Unit, shared: &Shared) -> String {
    let u = unit.lock();
    let yes = |b: bool| if b { "yes" } else { "no" };
    let serial = u
        .replay()
        .usb()
        .indices
        .serial
        .and_then(|i| u.replay().string(i))
        .unwrap_or("-")
        .to_string();
    let attached = shared
        .attached()
        .map_or_else(|| "no".to_string(), |p| p.to_string());
    format!(
        "present={} attached={attached} output={} mains={} serial={serial} faults={}",
        yes(u.present()),
        if u.output_on() { "on" } else { "off" },
        yes(u.mains()),
        shared.faults()
    )
}

/// Sends `command` to the emulator listening on `path` and returns its answer (without the
/// newline); an `error: ...` answer is an [`Error::Control`].
pub fn send(path: &Path, command: &str) -> Result<String, Error> {
    let err = |source| Error::File {
        what: "control socket",
        path: PathBuf::from(path),
        source,
    };
    let mut conn = UnixStream::connect(path).map_err(err)?;
    conn.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(err)?;
    conn.write_all(format!("{command}\n").as_bytes())
        .map_err(err)?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).map_err(err)?;
    let answer = answer.trim_end().to_string();
    if answer.starts_with("error") {
        return Err(Error::Control(answer));
    }
    Ok(answer)
}
