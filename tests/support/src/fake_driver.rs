//! A scripted driver on the driver socket, for what stock dummy-ups cannot publish: ENUM and
//! RANGE lists, STRING:0 variables, and chosen tracking results.
//!
//! It listens on `<state>/<driver>-<ups>`, answers `DUMPALL` with the lines of a dump file
//! (from `tests/data/`, `#` comment lines skipped) followed by `DUMPDONE`, `PING` with `PONG`,
//! an `INSTCMD <cmd>` that has an `@on <cmd>` section in the file with that section's lines
//! (live updates, `@sleep <ms>` pauses),
//! and a tracked `SET`/`INSTCMD` with `TRACKING <id> <result>` where the result is
//! * `INSTCMD load.off` → 4 (conversion failed; a 2.8.0 upsd reports it as `ERR UNKNOWN`)
//! * `INSTCMD <cmd> <param>` → 2 (invalid argument)
//! * `SET ups.delay.start ...` → 3 (failed)
//! * anything else → 0 (success).
//!
//! It never changes its data: a SET is acknowledged but not applied.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use nut_proto::split_line;
use nut_state::{DriverMsg, UpsdMsg};

/// Driver name to put in ups.conf for a fake UPS (the socket is `fake-driver-<ups>`).
pub const FAKE_DRIVER: &str = "fake-driver";

/// A scripted driver serving its socket on a thread until dropped.
pub struct FakeDriver {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The dump file: lines sent in reply to DUMPALL (before DUMPDONE), then `@on <cmd>`
/// sections: lines sent live when upsd forwards `INSTCMD <cmd>` (`@sleep <ms>` pauses).
#[derive(Debug, Default)]
struct Script {
    dump: Vec<String>,
    on: Vec<(String, Vec<String>)>,
}

fn load_script(dump_file: &Path) -> Script {
    let text = std::fs::read_to_string(dump_file)
        .unwrap_or_else(|e| panic!("{}: {e}", dump_file.display()));
    let mut script = Script::default();
    for l in text.lines() {
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(cmd) = l.strip_prefix("@on ") {
            script.on.push((cmd.trim().to_string(), Vec::new()));
        } else if let Some((_, lines)) = script.on.last_mut() {
            lines.push(format!("{l}\n"));
        } else {
            script.dump.push(format!("{l}\n"));
        }
    }
    script
}

/// The tracking result for one message from upsd (see the module doc).
fn result_for(msg: &UpsdMsg) -> i32 {
    match msg {
        UpsdMsg::InstCmd {
            cmd, param: None, ..
        } if cmd == "load.off" => 4,
        UpsdMsg::InstCmd { param: Some(_), .. } => 2,
        UpsdMsg::Set { var, .. } if var == "ups.delay.start" => 3,
        _ => 0,
    }
}

/// What the fake answers to one message from upsd: `(lines, pause before the rest)` steps.
fn answer(script: &Script, msg: &UpsdMsg) -> Vec<Step> {
    let line = |m: DriverMsg| Step::Send(format!("{}\n", m.to_line()));
    match msg {
        UpsdMsg::DumpAll => {
            let mut steps: Vec<Step> = script.dump.iter().cloned().map(Step::Send).collect();
            steps.push(line(DriverMsg::DumpDone));
            steps
        }
        UpsdMsg::Ping => vec![line(DriverMsg::Pong)],
        UpsdMsg::Set { tracking, .. } | UpsdMsg::InstCmd { tracking, .. } => {
            let mut steps = Vec::new();
            if let Some(id) = tracking {
                steps.push(line(DriverMsg::Tracking {
                    id: id.clone(),
                    status: result_for(msg),
                }));
            }
            let live = match msg {
                UpsdMsg::InstCmd { cmd, .. } => script.on.iter().find(|(on, _)| on == cmd),
                _ => None,
            };
            for l in live.map(|(_, lines)| lines.as_slice()).unwrap_or_default() {
                match l.trim().strip_prefix("@sleep ") {
                    Some(ms) => {
                        steps.push(Step::Sleep(Duration::from_millis(ms.parse().unwrap_or(0))))
                    }
                    None => steps.push(Step::Send(l.clone())),
                }
            }
            steps
        }
        _ => Vec::new(),
    }
}

/// One step of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Lines to write (with their newlines).
    Send(String),
    /// Flush what came before, then wait.
    Sleep(Duration),
}

fn serve(stream: UnixStream, script: Arc<Script>, stop: Arc<AtomicBool>) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) if line.ends_with('\n') => {
                let words = split_line(&line).unwrap_or_default();
                line.clear();
                let Some(msg) = UpsdMsg::parse(&words) else {
                    continue;
                };
                let mut reply = String::new();
                for step in answer(&script, &msg) {
                    match step {
                        Step::Send(lines) => reply.push_str(&lines),
                        Step::Sleep(pause) => {
                            if out.write_all(reply.as_bytes()).is_err() {
                                return;
                            }
                            reply.clear();
                            std::thread::sleep(pause);
                        }
                    }
                }
                if !reply.is_empty() && out.write_all(reply.as_bytes()).is_err() {
                    return;
                }
            }
            Ok(_) => {} // partial line: keep reading
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

impl FakeDriver {
    /// Listen on `socket` and serve `dump_file` to every upsd that connects.
    pub fn start(socket: &Path, dump_file: &Path) -> FakeDriver {
        let dump = Arc::new(load_script(dump_file));
        let _ = std::fs::remove_file(socket);
        let listener =
            UnixListener::bind(socket).unwrap_or_else(|e| panic!("bind {}: {e}", socket.display()));
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let (d, st) = (dump.clone(), stop2.clone());
                        conns.push(std::thread::spawn(move || serve(s, d, st)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        FakeDriver {
            path: socket.to_path_buf(),
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeDriver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_results() {
        let msg = |line: &str| UpsdMsg::parse(&split_line(line).unwrap()).unwrap();
        assert_eq!(result_for(&msg("INSTCMD load.off TRACKING X")), 4);
        assert_eq!(result_for(&msg("INSTCMD beeper.disable TRACKING X")), 0);
        assert_eq!(result_for(&msg("INSTCMD a.b 5 TRACKING X")), 2);
        assert_eq!(result_for(&msg("SET ups.delay.start \"9\" TRACKING X")), 3);
        assert_eq!(result_for(&msg("SET ups.id \"9\" TRACKING X")), 0);
    }

    #[test]
    fn answers_speak_the_driver_socket() {
        let script = Script {
            dump: vec!["SETINFO ups.status \"OL\"\n".into()],
            on: vec![(
                "test.battery.start".into(),
                vec![
                    "SETINFO ups.status \"OL TEST\"\n".into(),
                    "@sleep 5\n".into(),
                ],
            )],
        };
        let send = |s: &str| Step::Send(s.into());
        assert_eq!(
            answer(&script, &UpsdMsg::DumpAll),
            [send("SETINFO ups.status \"OL\"\n"), send("DUMPDONE\n")]
        );
        assert_eq!(answer(&script, &UpsdMsg::Ping), [send("PONG\n")]);
        let cmd = UpsdMsg::InstCmd {
            cmd: "test.battery.start".into(),
            param: None,
            tracking: Some("ID".into()),
        };
        assert_eq!(
            answer(&script, &cmd),
            [
                send("TRACKING ID 0\n"),
                send("SETINFO ups.status \"OL TEST\"\n"),
                Step::Sleep(Duration::from_millis(5))
            ]
        );
    }
}
