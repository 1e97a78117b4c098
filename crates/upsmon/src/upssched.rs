//! upssched: upsmon's timer helper, a drop-in for NUT 2.8.0's `upssched`.
//!
//! upsmon runs it as `NOTIFYCMD` with `UPSNAME` and `NOTIFYTYPE` in the environment (the
//! message, the first argument, is not used, as in stock). It reads `upssched.conf` from the
//! config directory and, for every `AT` line matching the UPS (exactly, or `*`) and the event
//! (any case), in file order:
//!
//! * `START-TIMER <name> <secs>` hands a timer to the timer daemon, starting it first when
//!   no daemon answers on `PIPEFN` (`LOCKFN` is held with `flock` while one is started, so
//!   two calls never start two);
//! * `CANCEL-TIMER <name> [<cmd>]` cancels the first timer of that name; when none was
//!   running and `<cmd>` is given, CMDSCRIPT runs with `<cmd>`;
//! * `EXECUTE <cmd>` runs CMDSCRIPT with `<cmd>` now.
//!
//! CMDSCRIPT runs as 2.8.0 runs it: `/bin/sh -c "<CMDSCRIPT> <name>"`. Unlike stock, no one
//! waits for it: each run is its own process (own process group, stdio on /dev/null), so a
//! CMDSCRIPT that hangs or fails never holds up the call upsmon makes, the timer daemon, or a
//! later timer. The daemon fires each timer on time, logs how each run ended, and exits as soon
//! as its last timer has fired or been cancelled, or after [`IDLE_EXIT`] when no call ever
//! reached it. (Stock means to linger 15 s, but its loop spins on a connection the caller has
//! closed, so in practice it too leaves as soon as its queue is empty; measured side by side.)
//! A call that reaches a daemon on its way out finds the socket gone and starts a new one. The wire between a call and the daemon is stock's
//! (`START "<name>" "<secs>"`, `CANCEL "<name>" ["<cmd>"]`, answered `OK`).

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{fork, ForkResult};
use nut_conf::upssched_conf::{self, AtCommand};

use crate::Error;

/// How long a timer daemon no call has reached waits before it exits (stock: 15 passes).
pub const IDLE_EXIT: Duration = Duration::from_secs(15);
/// How long one exchange with the daemon may take before the call gives up on it.
const TALK_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts to reach (or start) the daemon before the call fails.
const MAX_TRIES: u32 = 10;
/// The daemon's longest sleep between looks at its socket and timers.
const TICK: Duration = Duration::from_millis(50);

/// Run upssched as NUT's upsmon calls it; the exit status of the call.
pub fn run() -> u8 {
    syslog_open();
    let (Ok(upsname), Ok(notifytype)) = (std::env::var("UPSNAME"), std::env::var("NOTIFYTYPE"))
    else {
        // stock prints these two lines on stdout
        println!("Error: UPSNAME and NOTIFYTYPE must be set.");
        println!("This program should only be run from upsmon.");
        return 1;
    };
    match call(&upsname, &notifytype) {
        Ok(()) => 0,
        Err(e) => {
            log(&e.to_string());
            1
        }
    }
}

fn call(upsname: &str, notifytype: &str) -> Result<(), Error> {
    let file = nut_daemon::conf_file("upssched.conf")?;
    let conf = upssched_conf::load(&file).map_err(|e| match e {
        nut_conf::Error::Io { file, source } => Error::ReadConf { file, source },
        nut_conf::Error::Syntax(e) => Error::Conf(e),
        other => Error::system("upssched.conf", io::Error::other(other.to_string())),
    })?;
    let ats: Vec<_> = conf.matching(upsname, notifytype).cloned().collect();
    if ats.is_empty() {
        return Ok(());
    }
    // the parser made sure these precede every AT line
    let (Some(script), Some(pipefn), Some(lockfn)) = (&conf.cmdscript, &conf.pipefn, &conf.lockfn)
    else {
        return Ok(());
    };
    let sched = Sched {
        script: script.clone(),
        pipefn: pipefn.clone(),
        lockfn: lockfn.clone(),
    };
    for at in ats {
        match &at.command {
            AtCommand::StartTimer { name, secs } => {
                sched.send(&["START", name, &secs.to_string()])?;
            }
            AtCommand::CancelTimer { name, cmd } => {
                let mut words = vec!["CANCEL", name.as_str()];
                words.extend(cmd.as_deref());
                if !sched.cancel(&words)? {
                    // no daemon: no timer to cancel
                    if let Some(cmd) = cmd {
                        log(&format!("Cancel {name}, event: {cmd}"));
                        run_cmdscript(&sched.script, cmd, false);
                    }
                }
            }
            AtCommand::Execute { name } => {
                log(&format!("Executing command: {name}"));
                run_cmdscript(&sched.script, name, false);
            }
            other => log(&format!(
                "{}:{}: Invalid command: {} is not in NUT 2.8.0's upssched",
                file.display(),
                at.line,
                command_word(other)
            )),
        }
    }
    Ok(())
}

fn command_word(c: &AtCommand) -> &'static str {
    match c {
        AtCommand::StartTimer { .. } => "START-TIMER",
        AtCommand::StartTimerShared { .. } => "START-TIMER-SHARED",
        AtCommand::CancelTimer { .. } => "CANCEL-TIMER",
        AtCommand::CancelTimerMatched { .. } => "CANCEL-TIMER-MATCHED",
        AtCommand::Execute { .. } => "EXECUTE",
    }
}

/// The three settings a call needs.
struct Sched {
    script: String,
    pipefn: PathBuf,
    lockfn: PathBuf,
}

impl Sched {
    /// Hand `words` to the daemon, starting one when none answers.
    fn send(&self, words: &[&str]) -> Result<(), Error> {
        let mut last = io::Error::other("no attempt");
        for _ in 0..MAX_TRIES {
            match self.talk_once(words) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            self.ensure_daemon()?;
        }
        Err(Error::system(
            "Unable to connect to daemon and unable to start daemon",
            last,
        ))
    }

    /// Hand a `CANCEL` to the daemon: `false` when no daemon runs (none answers on PIPEFN).
    /// A daemon that took the connection but did not answer (it was leaving) is asked again.
    fn cancel(&self, words: &[&str]) -> Result<bool, Error> {
        let mut last = io::Error::other("no attempt");
        for _ in 0..MAX_TRIES {
            let Ok(s) = UnixStream::connect(&self.pipefn) else {
                return Ok(false);
            };
            match self.exchange(s, words) {
                Ok(()) => return Ok(true),
                Err(e) => last = e,
            }
            std::thread::sleep(TICK);
        }
        Err(Error::system("Unable to reach the timer daemon", last))
    }

    /// One exchange: connect, send the line, read `OK`.
    fn talk_once(&self, words: &[&str]) -> io::Result<()> {
        self.exchange(UnixStream::connect(&self.pipefn)?, words)
    }

    /// Send the line on `s` and read `OK`.
    fn exchange(&self, mut s: UnixStream, words: &[&str]) -> io::Result<()> {
        s.set_read_timeout(Some(TALK_TIMEOUT))?;
        s.set_write_timeout(Some(TALK_TIMEOUT))?;
        s.write_all(encode(words).as_bytes())?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf)?;
        if buf[..n].starts_with(b"OK") {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "read confirmation got [{}]",
                String::from_utf8_lossy(&buf[..n]).trim_end()
            )))
        }
    }

    /// Start the daemon unless another call is starting it or it answers already.
    fn ensure_daemon(&self) -> Result<(), Error> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lockfn)
            .map_err(|e| {
                let what = format!("{}: {e}", self.lockfn.display());
                Error::system("Can't open LOCKFN", io::Error::new(e.kind(), what))
            })?;
        let deadline = Instant::now() + TALK_TIMEOUT;
        let mut file = file;
        let lock = loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(l) => break l,
                Err((f, _)) if Instant::now() < deadline => {
                    file = f;
                    std::thread::sleep(TICK);
                }
                // another call holds it for long: try to talk again
                Err(_) => return Ok(()),
            }
        };
        if UnixStream::connect(&self.pipefn).is_ok() {
            return Ok(());
        }
        let started = self.start_daemon();
        drop(lock);
        started
    }

    /// Fork the timer daemon and wait until it listens.
    fn start_daemon(&self) -> Result<(), Error> {
        let (ready_r, ready_w) = nix::unistd::pipe().map_err(|e| Error::system("pipe", e))?;
        // SAFETY: upssched is single-threaded here (no runtime, no thread started), so the
        // child may run any code after fork.
        match unsafe { fork() }.map_err(|e| Error::system("Unable to enter background", e))? {
            ForkResult::Parent { .. } => {
                drop(ready_w);
                // "1" when the child listens; else why it could not, or nothing if it died
                let mut said = String::new();
                let _ = File::from(ready_r).read_to_string(&mut said);
                match said.strip_prefix('1') {
                    Some(_) => Ok(()),
                    None if said.is_empty() => Err(Error::system(
                        "Unable to start the timer daemon",
                        io::Error::other("it exited"),
                    )),
                    None => Err(Error::system(
                        "Unable to start the timer daemon",
                        io::Error::other(said),
                    )),
                }
            }
            ForkResult::Child => {
                drop(ready_r);
                let mut w = File::from(ready_w);
                let code = match self.daemon_setup() {
                    Ok(listener) => {
                        let _ = w.write_all(b"1");
                        drop(w);
                        self.daemon_loop(&listener)
                    }
                    Err(e) => {
                        let _ = w.write_all(e.to_string().as_bytes());
                        1
                    }
                };
                std::process::exit(code)
            }
        }
    }

    fn daemon_setup(&self) -> Result<UnixListener, Error> {
        nix::unistd::setsid().map_err(|e| Error::system("setsid", e))?;
        // before stdio goes to /dev/null, so that the caller sees why it failed
        let _ = std::fs::remove_file(&self.pipefn);
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o007));
        let listener = UnixListener::bind(&self.pipefn).map_err(|e| {
            Error::system(
                "bind PIPEFN failed",
                io::Error::new(e.kind(), format!("{}: {e}", self.pipefn.display())),
            )
        })?;
        std::fs::set_permissions(&self.pipefn, std::fs::Permissions::from_mode(0o660))
            .map_err(|e| Error::system("chmod PIPEFN failed", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::system("PIPEFN", e))?;
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| Error::system("open /dev/null", e))?;
        for fd in 0..3 {
            // SAFETY: plain dup2 on a descriptor this function owns onto 0, 1 and 2.
            if unsafe { nix::libc::dup2(null.as_raw_fd(), fd) } < 0 {
                return Err(Error::system("dup2", io::Error::last_os_error()));
            }
        }
        log("Timer daemon started");
        Ok(listener)
    }

    /// The timer daemon: answer calls, fire timers, exit when idle.
    fn daemon_loop(&self, listener: &UnixListener) -> i32 {
        let mut timers: Vec<(String, Instant)> = Vec::new();
        let started = Instant::now();
        let mut served = false;
        loop {
            loop {
                match listener.accept() {
                    Ok((conn, _)) => {
                        self.serve(conn, &mut timers);
                        served = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        log(&format!("accept on unix fd failed: {e}"));
                        break;
                    }
                }
            }
            let now = Instant::now();
            let mut i = 0;
            while i < timers.len() {
                if timers[i].1 <= now {
                    let (name, _) = timers.remove(i);
                    log(&format!("Event: {name} "));
                    run_cmdscript(&self.script, &name, true);
                } else {
                    i += 1;
                }
            }
            if timers.is_empty() && (served || now.duration_since(started) >= IDLE_EXIT) {
                log("Timer queue empty, exiting");
                let _ = std::fs::remove_file(&self.pipefn);
                return 0;
            }
            let next = timers
                .iter()
                .map(|t| t.1.saturating_duration_since(now))
                .min()
                .unwrap_or(TICK);
            std::thread::sleep(next.min(TICK));
        }
    }

    /// One connection: one request line, one answer.
    fn serve(&self, mut conn: UnixStream, timers: &mut Vec<(String, Instant)>) {
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(TALK_TIMEOUT));
        let _ = conn.set_write_timeout(Some(TALK_TIMEOUT));
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while line.len() < 256 && !line.ends_with(b"\n") {
            match conn.read(&mut b) {
                Ok(1) => line.push(b[0]),
                _ => break,
            }
        }
        let words = nut_conf::lines(&line, Path::new("PIPEFN"))
            .ok()
            .and_then(|l| l.into_iter().next())
            .map(|l| l.words)
            .unwrap_or_default();
        let answer = match words.as_slice() {
            [op, name, rest @ ..] if op == "CANCEL" && rest.len() <= 1 => {
                if let Some(i) = timers.iter().position(|t| &t.0 == name) {
                    log(&format!("Cancelling timer: {name}"));
                    timers.remove(i);
                } else if let Some(cmd) = rest.first().filter(|c| !c.is_empty()) {
                    log(&format!("Cancel {name}, event: {cmd}"));
                    run_cmdscript(&self.script, cmd, true);
                }
                "OK\n"
            }
            [op, name, secs] if op == "START" => match secs.parse::<u64>() {
                Ok(s) => {
                    log(&format!("New timer: {name} ({s} seconds)"));
                    timers.push((name.clone(), Instant::now() + Duration::from_secs(s)));
                    "OK\n"
                }
                Err(_) => {
                    log("bogus offset for timer, ignoring");
                    "OK\n"
                }
            },
            _ => {
                log(&format!("Unknown command on socket: {words:?}"));
                "ERR UNKNOWN\n"
            }
        };
        let _ = conn.write_all(answer.as_bytes());
    }
}

/// A request line as stock's `sendcmd` writes it: each argument quoted, `\` and `"` escaped.
fn encode(words: &[&str]) -> String {
    let mut out = words[0].to_string();
    for w in &words[1..] {
        out.push_str(" \"");
        for c in w.chars() {
            if c == '\\' || c == '"' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('\n');
    out
}

/// Run `/bin/sh -c "<script> <arg>"` (as 2.8.0's `system()`) and do not wait for it. In the
/// daemon (`watch`) a thread waits and logs how it ended; a call's own runs are left to init.
fn run_cmdscript(script: &str, arg: &str, watch: bool) {
    let line = format!("{script} {arg}");
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(&line)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        Ok(mut child) if watch => {
            std::thread::spawn(move || match child.wait() {
                Ok(st) => match (
                    st.code(),
                    std::os::unix::process::ExitStatusExt::signal(&st),
                ) {
                    (Some(0), _) => {}
                    (Some(c), _) => log(&format!("exec_cmd({line}) returned {c}")),
                    (None, Some(s)) => log(&format!("exec_cmd({line}) terminated with signal {s}")),
                    (None, None) => log(&format!("Execute command failure: {line}")),
                },
                Err(e) => log(&format!("Execute command failure: {line}: {e}")),
            });
        }
        Ok(_) => {}
        Err(e) => log(&format!("Execute command failure: {line}: {e}")),
    }
}

fn syslog_open() {
    let _ = nut_daemon::Syslog::open("upssched");
}

/// A line to syslog, and to stderr (which is /dev/null in the daemon).
fn log(msg: &str) {
    eprintln!("{msg}");
    if let Ok(c) = CString::new(msg.replace('\0', "")) {
        // SAFETY: both are valid NUL-terminated strings for the call.
        unsafe { nix::libc::syslog(nix::libc::LOG_NOTICE, c"%s".as_ptr(), c.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_written_as_stock_writes_them() {
        assert_eq!(
            encode(&["START", "onbatt", "30"]),
            "START \"onbatt\" \"30\"\n"
        );
        assert_eq!(
            encode(&["CANCEL", "a\"b", "c\\d"]),
            "CANCEL \"a\\\"b\" \"c\\\\d\"\n"
        );
        let words = nut_conf::lines(
            encode(&["CANCEL", "a\"b", "c\\d"]).as_bytes(),
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(words[0].words, vec!["CANCEL", "a\"b", "c\\d"]);
    }
}
