//! `upslog`: write a line about a UPS every `-i` seconds, made from a format string
//! (`%VAR name%`, `%TIME strftime%`, `%ETIME%`, `%HOST%`, `%UPSHOST%`, `%PID%`, `%%`), to a
//! file (in the background unless `-F`) or to stdout (`-l -`). `SIGHUP` reopens the file,
//! `SIGUSR1` writes a line now, `SIGINT`/`SIGQUIT`/`SIGTERM` end it after one more line.
//! Stock 2.8.0's old form `upslog <ups> <file> <interval> [<format>...]` works too.

use std::ffi::{CString, OsString};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;

use crate::conn::{atoi, now_secs, os_text, split_name, Conn, Tls};
use crate::{c_like_signals, flush_stdout, prog_name, Error, Result, VERSION};
use nut_daemon::getopt::{Getopt, Opt};

/// stock's default `-f`.
pub const DEFAULT_FORMAT: &str = "%TIME @Y@m@d @H@M@S% %VAR battery.charge% \
%VAR input.voltage% %VAR ups.load% [%VAR ups.status%] %VAR ups.temperature% \
%VAR input.frequency%";

/// Longest line stock writes (`LARGEBUF` less its NUL).
const LINE_MAX: usize = 4095;

/// Whether messages go to syslog (after going to the background) instead of stderr.
static TO_SYSLOG: AtomicBool = AtomicBool::new(false);

/// stock's `upslogx`: stderr in the foreground, syslog in the background.
fn log(message: &str) {
    if !TO_SYSLOG.load(Ordering::Relaxed) {
        eprintln!("{message}");
        return;
    }
    let Ok(text) = CString::new(message.replace('\0', "")) else {
        return;
    };
    // SAFETY: both are NUL-terminated strings that live across the call; "%s" takes one.
    unsafe { libc::syslog(libc::LOG_INFO, c"%s".as_ptr(), text.as_ptr()) };
}

fn help(prog: &str) {
    print!(
        "UPS status logger.

usage: {prog} [OPTIONS]

  -f <format>\t- Log format.  See below for details.
\t\t- Use -f \"<format>\" so your shell doesn't break it up.
  -i <interval>\t- Time between updates, in seconds
  -l <logfile>\t- Log file name, or - for stdout (foreground by default)
  -F\t\t- stay foregrounded even if logging into a file
  -B\t\t- stay backgrounded even if logging to stdout
  -p <pidbase>  - Base name for PID file (defaults to \"{prog}\")
  -s <ups>\t- Monitor UPS <ups> - <upsname>@<host>[:<port>]
        \t- Example: -s myups@server
  -u <user>\t- Switch to <user> if started as root

Some valid format string escapes:
\t%% insert a single %
\t%TIME format% insert the time with strftime formatting
\t%HOST% insert the local hostname
\t%UPSHOST% insert the host of the ups being monitored
\t%PID% insert the pid of upslog
\t%VAR varname% insert the value of ups variable varname

format string defaults to:
{DEFAULT_FORMAT}

See the upslog(8) man page for more information.
"
    );
}

/// One piece of a compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(Vec<u8>),
    Host,
    UpsHost,
    Pid,
    /// `%TIME fmt%` with `@` already turned into `%`.
    Time(Vec<u8>),
    /// `%VAR name%`; `None` for a `%VAR%` without a name.
    Var(Option<String>),
    Etime,
}

/// The escapes in the order stock tries them; each matches a command that starts with its
/// name, in any case.
const ESCAPES: &[&str] = &["HOST", "UPSHOST", "PID", "TIME", "VAR", "ETIME"];

/// stock's `compile_format`: literal bytes, `%%`, and `%<cmd>[ <arg>]%`; an unknown command
/// or a `%` without its closing one gives `INVALID`.
fn compile(format: &[u8]) -> Vec<Item> {
    let invalid = || Item::Literal(b"INVALID".to_vec());
    let mut items = Vec::new();
    let mut i = 0;
    while i < format.len() {
        if format[i] != b'%' {
            items.push(Item::Literal(vec![format[i]]));
            i += 1;
            continue;
        }
        if format.get(i + 1) == Some(&b'%') {
            items.push(Item::Literal(b"%".to_vec()));
            i += 2;
            continue;
        }
        let rest = &format[i + 1..];
        let Some(end) = rest.iter().position(|&b| b == b'%') else {
            items.push(invalid());
            i += 1;
            continue;
        };
        let spec = &rest[..end];
        let (cmd, arg) = match spec.iter().position(|&b| b == b' ') {
            Some(sp) => (&spec[..sp], Some(&spec[sp + 1..])),
            None => (spec, None),
        };
        let found = ESCAPES.iter().find(|name| {
            cmd.len() >= name.len() && cmd[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        });
        let arg_text = || arg.map(|a| String::from_utf8_lossy(a).into_owned());
        items.push(match found.copied() {
            Some("HOST") => Item::Host,
            Some("UPSHOST") => Item::UpsHost,
            Some("PID") => Item::Pid,
            Some("TIME") => Item::Time(
                arg.unwrap_or_default()
                    .iter()
                    .map(|&b| if b == b'@' { b'%' } else { b })
                    .collect(),
            ),
            Some("VAR") => Item::Var(arg_text()),
            Some(_) => Item::Etime,
            None => invalid(),
        });
        i += end + 2;
    }
    items
}

/// `strftime(format)` of the local time `t`, in stock's 512-byte buffer (empty when the
/// result does not fit).
fn strftime_local(format: &[u8], t: i64) -> Vec<u8> {
    let Ok(format) = CString::new(format) else {
        return Vec::new();
    };
    let tod = t as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r only writes into `tm`.
    if unsafe { libc::localtime_r(&tod, &mut tm) }.is_null() {
        return Vec::new();
    }
    let mut buf = [0u8; 512];
    // SAFETY: `buf` is writable for its length, `format` is NUL-terminated, `tm` is filled.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), format.as_ptr(), &tm) };
    buf[..n].to_vec()
}

/// Append `text` to `line` as `snprintfcat` into a `LARGEBUF` does: cut at [`LINE_MAX`].
fn append(line: &mut Vec<u8>, text: &[u8]) {
    let room = LINE_MAX.saturating_sub(line.len());
    line.extend_from_slice(&text[..text.len().min(room)]);
}

/// Where the lines go.
enum Sink {
    Stdout,
    File(File),
}

impl Sink {
    fn open(path: &str) -> std::io::Result<Sink> {
        if path == "-" {
            return Ok(Sink::Stdout);
        }
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map(Sink::File)
    }

    fn write_line(&mut self, line: &[u8]) {
        let mut bytes = line.to_vec();
        bytes.push(b'\n');
        // Like stock's fprintf: a failed write is not reported.
        let _ = match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes).and_then(|()| out.flush())
            }
            Sink::File(f) => f.write_all(&bytes).and_then(|()| f.flush()),
        };
    }
}

/// What the command line asked for.
struct Setup {
    prog: String,
    monhost: String,
    logfn: String,
    interval: i32,
    format: Vec<u8>,
    user: String,
    pidbase: String,
    foreground: Option<bool>,
}

/// Run `upslog` with this `argv`; the exit status.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    c_like_signals();
    let code = match upslog(argv) {
        Ok(code) => code,
        Err(e) => {
            flush_stdout();
            log(&e.to_string());
            ExitCode::from(1)
        }
    };
    flush_stdout();
    code
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}

/// The command line, or the exit status when it only asked for help or the version.
fn parse(argv: &[OsString]) -> std::result::Result<Setup, ExitCode> {
    let prog = prog_name(argv, "upslog");
    println!("Network UPS Tools {prog} {VERSION}");
    let text = |a: Option<OsString>| a.map(|a| a.to_string_lossy().into_owned());
    let mut monhost = None;
    let mut logfn = None;
    let mut interval = 30;
    let mut format = DEFAULT_FORMAT.as_bytes().to_vec();
    let mut user = nut_daemon::DEFAULT_USER.to_owned();
    let mut pidbase = prog.clone();
    let mut foreground = None;
    let mut opts = Getopt::new(argv, "hs:l:i:f:u:Vp:FB");
    for opt in opts.by_ref() {
        match opt {
            Opt::Flag(b'h', _) => {
                help(&prog);
                return Err(ExitCode::SUCCESS);
            }
            Opt::Flag(b's', arg) => monhost = text(arg),
            Opt::Flag(b'l', arg) => logfn = text(arg),
            Opt::Flag(b'i', arg) => interval = atoi(&text(arg).unwrap_or_default()),
            Opt::Flag(b'f', arg) => format = arg.map(|a| a.as_bytes().to_vec()).unwrap_or_default(),
            Opt::Flag(b'u', arg) => user = text(arg).unwrap_or_default(),
            Opt::Flag(b'V', _) => return Err(ExitCode::SUCCESS),
            Opt::Flag(b'p', arg) => pidbase = text(arg).unwrap_or_default(),
            Opt::Flag(b'F', _) => foreground = Some(true),
            Opt::Flag(b'B', _) => foreground = Some(false),
            // getopt has said what was wrong; stock carries on
            _ => {}
        }
    }
    let operands = opts.operands();
    if operands.len() == 1 || operands.len() == 2 {
        help(&prog);
        return Err(ExitCode::SUCCESS);
    }
    if operands.len() >= 3 {
        monhost = Some(operands[0].to_string_lossy().into_owned());
        logfn = Some(operands[1].to_string_lossy().into_owned());
        interval = atoi(&operands[2].to_string_lossy());
    }
    if operands.len() >= 4 {
        format.clear();
        for word in &operands[3..] {
            append(&mut format, word.as_bytes());
            append(&mut format, b" ");
        }
    }
    Ok(Setup {
        prog,
        monhost: monhost.unwrap_or_default(),
        logfn: logfn.unwrap_or_default(),
        interval,
        format,
        user,
        pidbase,
        foreground,
    })
}

fn upslog(argv: Vec<OsString>) -> Result<ExitCode> {
    let s = match parse(&argv) {
        Ok(setup) => setup,
        Err(code) => return Ok(code),
    };
    if s.monhost.is_empty() {
        return Err(Error::fatal(
            "No UPS defined for monitoring - use -s <system>",
        ));
    }
    if s.logfn.is_empty() {
        return Err(Error::fatal(
            "No filename defined for logging - use -l <file>",
        ));
    }
    println!(
        "logging status of {} to {} ({}s intervals)",
        s.monhost, s.logfn, s.interval
    );
    let target = split_name(Some(&s.monhost)).map_err(|()| {
        Error::fatal("Error: invalid UPS definition.  Required format: upsname[@hostname[:port]]\n")
    })?;
    let mut rt = runtime()?;
    let mut conn = match rt.block_on(Conn::connect(&target.host, target.port, Tls::Try)) {
        Ok(conn) => Some(conn),
        Err(e) => {
            eprintln!("Warning: initial connect failed: {}", e.0);
            None
        }
    };
    let sink = Sink::open(&s.logfn)
        .map_err(|e| Error::io(format!("could not open logfile {}", s.logfn), e))?;
    let user = nut_daemon::lookup_user(&s.user).map_err(|e| match e {
        nut_daemon::PrivError::Lookup { source, .. } => Error::io(
            format!("getpwnam({})", s.user),
            std::io::Error::from_raw_os_error(source as i32),
        ),
        other => Error::fatal(other.to_string()),
    })?;
    nut_daemon::Syslog::open(&s.prog);
    let foreground = s.foreground.unwrap_or(matches!(sink, Sink::Stdout));
    if !foreground {
        // The child reconnects: a runtime and its sockets do not survive fork.
        if let Some(conn) = conn.take() {
            rt.block_on(conn.disconnect());
        }
        drop(rt);
        background()?;
        rt = runtime()?;
    }
    rt.block_on(run(s, target.host, target.port, conn, sink, user))
}

/// stock's `background()`: the parent leaves, the child gets /dev/null for stdin, stdout and
/// stderr and a session of its own, and logs to syslog from now on.
fn background() -> Result<()> {
    flush_stdout();
    // SAFETY: no other thread exists (the runtime was dropped); the child only calls
    // async-signal-safe functions until it goes on as a normal single-threaded process.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(Error::io(
            "Unable to enter background",
            std::io::Error::from_raw_os_error(e as i32),
        )),
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            // SAFETY: _exit ends the process without running Rust or C destructors.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Child) => {
            TO_SYSLOG.store(true, Ordering::Relaxed);
            let null = OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|e| Error::io("open /dev/null", e))?;
            use std::os::fd::AsRawFd;
            for fd in 0..=2 {
                // SAFETY: dup2 onto the standard descriptors of this process.
                unsafe { libc::dup2(null.as_raw_fd(), fd) };
            }
            // SAFETY: setsid has no memory effects.
            unsafe { libc::setsid() };
            log("Startup successful");
            Ok(())
        }
    }
}

/// stock's `writepid`: `<name>` as a path when absolute, else `<name>.pid` where PID files go.
fn write_pid(name: &str) {
    let path = if name.starts_with('/') {
        std::path::PathBuf::from(name)
    } else {
        nut_daemon::pidfile(name)
    };
    if let Err(e) = std::fs::write(&path, format!("{}\n", std::process::id())) {
        log(&format!(
            "writepid: fopen {}: {}",
            path.display(),
            os_text(&e)
        ));
    }
}

/// Signal flags, set by the handler tasks.
#[derive(Default)]
struct Flags {
    exit: AtomicI32,
    reopen: AtomicI32,
    /// Wakes a sleep for any of the signals (`SIGUSR1` only does that).
    wake: Notify,
}

fn watch(flags: &Arc<Flags>, kind: SignalKind, set: fn(&Flags, i32)) -> Result<()> {
    let mut stream = signal(kind).map_err(|e| Error::io("Can't install signal handler", e))?;
    let flags = flags.clone();
    let number = kind.as_raw_value();
    tokio::spawn(async move {
        while stream.recv().await.is_some() {
            set(&flags, number);
            flags.wake.notify_waiters();
        }
    });
    Ok(())
}

async fn run(
    s: Setup,
    host: String,
    port: u16,
    mut conn: Option<Conn>,
    mut sink: Sink,
    user: nix::unistd::User,
) -> Result<ExitCode> {
    let flags = Arc::new(Flags::default());
    let exit = |f: &Flags, n| f.exit.store(n, Ordering::Relaxed);
    watch(&flags, SignalKind::hangup(), |f, n| {
        f.reopen.store(n, Ordering::Relaxed)
    })?;
    watch(&flags, SignalKind::interrupt(), exit)?;
    watch(&flags, SignalKind::quit(), exit)?;
    watch(&flags, SignalKind::terminate(), exit)?;
    watch(&flags, SignalKind::user_defined1(), |_, _| {})?;
    write_pid(&s.pidbase);
    nut_daemon::become_user(&user, None).map_err(|e| Error::fatal(e.to_string()))?;
    let items = compile(&s.format);
    let ups = split_name(Some(&s.monhost))
        .map(|t| t.ups)
        .unwrap_or_default();
    let interval = i64::from(s.interval);
    let mut nextpoll: i64 = 0;
    while flags.exit.load(Ordering::Relaxed) == 0 {
        let now = now_secs() as i64;
        if nextpoll > now {
            let pause = Duration::from_secs((nextpoll - now) as u64);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = flags.wake.notified() => {}
            }
            nextpoll += interval;
        } else {
            nextpoll = now + interval;
        }
        let reopen = flags.reopen.swap(0, Ordering::Relaxed);
        if reopen != 0 {
            log(&format!("Signal {reopen}: reopening log file"));
            if matches!(sink, Sink::Stdout) {
                log("logging to stdout");
            } else {
                sink = Sink::open(&s.logfn)
                    .map_err(|e| Error::io(format!("could not reopen logfile {}", s.logfn), e))?;
            }
        }
        if !conn.as_ref().is_some_and(|c| c.client.is_open()) {
            conn = Conn::connect(&host, port, Tls::No).await.ok();
        }
        let line = render(&items, &s.monhost, &ups, conn.as_mut()).await;
        sink.write_line(&line);
        if s.interval > 30 {
            if let Some(c) = conn.take() {
                c.disconnect().await;
            }
        }
    }
    log(&format!(
        "Signal {}: exiting",
        flags.exit.load(Ordering::Relaxed)
    ));
    if let Some(c) = conn.take() {
        c.disconnect().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// One line: stock's `run_flist`.
async fn render(items: &[Item], monhost: &str, ups: &str, mut conn: Option<&mut Conn>) -> Vec<u8> {
    let mut line = Vec::new();
    for item in items {
        let text: Vec<u8> = match item {
            Item::Literal(bytes) => bytes.clone(),
            Item::Host => match nix::unistd::gethostname() {
                Ok(name) => name.as_bytes().to_vec(),
                Err(e) => {
                    log(&format!(
                        "gethostname failed: {}",
                        os_text(&std::io::Error::from_raw_os_error(e as i32))
                    ));
                    Vec::new()
                }
            },
            Item::UpsHost => monhost.as_bytes().to_vec(),
            Item::Pid => std::process::id().to_string().into_bytes(),
            Item::Time(format) => strftime_local(format, now_secs() as i64),
            Item::Etime => now_secs().to_string().into_bytes(),
            Item::Var(Some(var)) if !var.is_empty() && var.contains('.') => {
                let value = match conn.as_deref_mut() {
                    Some(c) => c.client.get_var(ups, var).await.ok(),
                    None => None,
                };
                value.unwrap_or_else(|| "NA".into()).into_bytes()
            }
            Item::Var(_) => b"INVALID".to_vec(),
        };
        append(&mut line, &text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Item {
        Item::Literal(s.as_bytes().to_vec())
    }

    #[test]
    fn formats_compile_as_stocks() {
        let items = compile(b"a%%%VAR ups.status%%TIME @H%%host%%UPSHOSTx%%ETIME%%PID%");
        assert_eq!(
            items,
            vec![
                lit("a"),
                lit("%"),
                Item::Var(Some("ups.status".into())),
                Item::Time(b"%H".to_vec()),
                Item::Host,
                Item::UpsHost,
                Item::Etime,
                Item::Pid,
            ]
        );
        // unknown command, %VAR without a name, a % without its closing one
        assert_eq!(
            compile(b"%FOO%%VAR%x %V"),
            vec![
                lit("INVALID"),
                Item::Var(None),
                lit("x"),
                lit(" "),
                lit("INVALID"),
                lit("V")
            ]
        );
    }

    #[test]
    fn lines_stop_at_4095_bytes() {
        let mut line = vec![b'x'; 4090];
        append(&mut line, b"0123456789");
        assert_eq!(line.len(), 4095);
        append(&mut line, b"more");
        assert_eq!(line.len(), 4095);
    }

    #[test]
    fn time_uses_strftime() {
        assert_eq!(strftime_local(b"%Y", 0).len(), 4);
        assert_eq!(strftime_local(b"%%", 0), b"%".to_vec());
    }
}
