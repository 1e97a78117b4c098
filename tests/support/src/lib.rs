//! Test support for end-to-end tests of nut-rs against stock NUT.
//!
//! Everything here runs real processes on loopback:
//! * [`NutDir`]: a temporary NUT_CONFPATH/NUT_STATEPATH with ups.conf, upsd.conf, upsd.users
//!   and the dummy-ups data files from `tests/data/`.
//! * [`Driver`]: a stock `dummy-ups` for every UPS of a [`NutDir`], killed on drop.
//! * [`Upsd`]: an upsd (stock `/lib/nut/upsd` or ours, same command line), killed on drop.
//! * [`LineClient`]: a raw protocol client that reads replies with the "quiet" rule.
//! * [`Rig`]: all three together (`Rig::stock()`, `Rig::ours()`).
//!
//! Stock NUT is found by [`stock_nut`]; when it is missing a test skips, except under `CI=true`
//! where it panics (a CI run must never silently skip the interop tests).

// A panic is how a test fails: these helpers are only called from tests.
#![allow(clippy::unwrap_used)]

pub mod corpus;
pub mod daemon;
pub mod fake_driver;
pub mod netns;
pub mod ports;
pub mod sd_notify;
pub mod stock_dump;
pub mod upsmon;
pub mod usbhid;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nut_proto::{Get, GetReply, OkReply, Request};
pub use ports::free_port;

/// Name of the UPS fed with the APC Back-UPS BK650M2-CH dump.
pub const UPS: &str = "ups";
/// Description of [`UPS`] in ups.conf.
pub const UPS_DESC: &str = "APC Back-UPS BK650M2-CH";
/// Name of the second UPS (synthetic values that need escaping, no `desc`).
pub const UPS2: &str = "second";

/// Users written to every upsd.users: (name, password, body lines).
pub const USERS: &[(&str, &str, &[&str])] = &[
    ("admin", "adminpw", &["actions = SET FSD", "instcmds = all"]),
    ("monuser", "secret", &["upsmon secondary"]),
    ("upsmon", "pw", &["upsmon primary"]),
    ("setonly", "setpw", &["actions = SET"]),
    ("cmdonly", "cmdpw", &["instcmds = load.off"]),
    ("nobody", "nopw", &[]),
];

/// The `tests/` folder of the workspace, which holds `data/` and `corpus/`.
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file in `tests/data/`.
pub fn data_file(name: &str) -> PathBuf {
    tests_dir().join("data").join(name)
}

/// Paths of the stock NUT 2.8.0 programs used by the tests.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // each field is the program it is named after
pub struct StockNut {
    pub upsd: PathBuf,
    pub dummy_ups: PathBuf,
    pub upsmon: PathBuf,
    pub upsc: PathBuf,
    pub upsrw: PathBuf,
    pub upscmd: PathBuf,
    pub upslog: PathBuf,
}

/// The stock NUT installation, or `None` (after printing why) when it is not installed.
/// Under `CI=true` a missing installation is a panic, never a skip.
pub fn stock_nut() -> Option<StockNut> {
    let s = StockNut {
        upsd: "/lib/nut/upsd".into(),
        dummy_ups: "/lib/nut/dummy-ups".into(),
        upsmon: "/lib/nut/upsmon".into(),
        upsc: "/usr/bin/upsc".into(),
        upsrw: "/usr/bin/upsrw".into(),
        upscmd: "/usr/bin/upscmd".into(),
        upslog: "/usr/bin/upslog".into(),
    };
    let required = [&s.upsd, &s.dummy_ups, &s.upsc];
    let missing: Vec<String> = required
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(s);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "stock NUT is not installed (missing: {}); CI must run the interop tests: \
             apt-get install -y nut-server nut-client python3-nut",
            missing.join(", ")
        );
    }
    eprintln!(
        "skipping: stock NUT not installed (missing: {})",
        missing.join(", ")
    );
    None
}

/// Path of a binary of this workspace (`target/<profile>/<name>`), found next to the running
/// test executable (`target/<profile>/deps/<test>-<hash>`). Panics when it was not built.
pub fn our_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("test exe has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    if !path.is_file() {
        panic!(
            "our binary `{name}` is not built (looked for {}): run `cargo build --workspace --bins` first",
            path.display()
        );
    }
    // `cargo test -p nut-rs-tests` does not rebuild other packages' binaries: warn when the
    // sources of the workspace are newer than the binary under test.
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    let root = tests_dir().join("..");
    let newest = ["crates", "drivers"]
        .iter()
        .filter_map(|d| newest_mtime(&root.join(d)))
        .max();
    if let (Some(b), Some(n)) = (built, newest) {
        if n > b {
            eprintln!(
                "WARNING: {} is older than the workspace sources: run `cargo build --workspace --bins`",
                path.display()
            );
        }
    }
    path
}

fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let t = if p.is_dir() {
            if p.ends_with("target") {
                continue;
            }
            newest_mtime(&p)
        } else {
            e.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
}

/// One UPS section of ups.conf, served by dummy-ups from a data file.
#[derive(Debug, Clone)]
pub struct UpsSpec {
    /// The section name.
    pub name: String,
    /// `desc = ...` in ups.conf, if any.
    pub desc: Option<String>,
    /// File in `tests/data/` copied into conf/ and given to dummy-ups as `port`.
    pub data: String,
    /// A variable that is present only once the data file was fully loaded.
    pub ready_var: String,
}

impl UpsSpec {
    /// A data file ending in `.dump` is served by a [`fake_driver::FakeDriver`] (driver
    /// socket lines) instead of stock dummy-ups (`.dev`).
    pub fn is_fake(&self) -> bool {
        self.data.ends_with(".dump")
    }

    /// The scripted third UPS `fake` (ENUM/RANGE lists, STRING:0, chosen tracking results).
    pub fn fake() -> UpsSpec {
        UpsSpec {
            name: "fake".into(),
            desc: Some("scripted driver".into()),
            data: "fake-driver.dump".into(),
            ready_var: "input.sensitivity".into(),
        }
    }
}

/// Options for [`NutDir::with`].
#[derive(Debug, Clone)]
pub struct NutDirOptions {
    /// The UPSes of ups.conf, each with its driver.
    pub upses: Vec<UpsSpec>,
    /// Extra lines for upsd.conf (after `LISTEN`).
    pub upsd_conf_extra: Vec<String>,
}

impl Default for NutDirOptions {
    fn default() -> Self {
        NutDirOptions {
            upses: vec![
                UpsSpec {
                    name: UPS.into(),
                    desc: Some(UPS_DESC.into()),
                    data: "bk650m2-ch.dev".into(),
                    ready_var: "ups.vendorid".into(),
                },
                UpsSpec {
                    name: UPS2.into(),
                    desc: None,
                    data: "escapes.dev".into(),
                    ready_var: "device.type".into(),
                },
            ],
            upsd_conf_extra: Vec::new(),
        }
    }
}

/// A temporary NUT configuration (`conf/`) and state (`state/`) directory with a free port.
pub struct NutDir {
    dir: tempfile::TempDir,
    /// The port upsd.conf's LISTEN names.
    pub port: u16,
    /// What the directory was made with.
    pub opts: NutDirOptions,
}

impl NutDir {
    /// The default setup: two UPSes (`ups` = BK650M2-CH dump, `second` = escapes), all users.
    pub fn new() -> Self {
        Self::with(NutDirOptions::default())
    }

    /// The setup `opts` describes.
    pub fn with(opts: NutDirOptions) -> Self {
        let mut dir = tempfile::Builder::new()
            .prefix("nut-rs-test-")
            .tempdir()
            .expect("tempdir");
        // NUT_RS_KEEP_DIRS=1 keeps the directories (configs, logs) for a post-mortem
        if std::env::var_os("NUT_RS_KEEP_DIRS").is_some() {
            dir.disable_cleanup(true);
            eprintln!("keeping {}", dir.path().display());
        }
        let port = free_port();
        let nd = NutDir { dir, port, opts };
        std::fs::create_dir(nd.conf()).unwrap();
        std::fs::create_dir(nd.state()).unwrap();
        for d in [nd.path().to_path_buf(), nd.conf(), nd.state()] {
            set_mode(&d, 0o755);
        }

        let mut ups_conf = String::new();
        for u in &nd.opts.upses {
            std::fs::copy(data_file(&u.data), nd.conf().join(&u.data))
                .unwrap_or_else(|e| panic!("copy {}: {e}", u.data));
            let driver = if u.is_fake() {
                fake_driver::FAKE_DRIVER
            } else {
                "dummy-ups"
            };
            ups_conf.push_str(&format!(
                "[{}]\n\tdriver = {driver}\n\tport = {}\n",
                u.name, u.data
            ));
            if let Some(d) = &u.desc {
                ups_conf.push_str(&format!("\tdesc = \"{d}\"\n"));
            }
        }
        nd.write_conf("ups.conf", &ups_conf);

        let mut upsd_conf = format!("LISTEN 127.0.0.1 {}\n", nd.port);
        for l in &nd.opts.upsd_conf_extra {
            upsd_conf.push_str(l);
            upsd_conf.push('\n');
        }
        nd.write_conf("upsd.conf", &upsd_conf);

        let mut users = String::new();
        for (name, pw, lines) in USERS {
            users.push_str(&format!("[{name}]\n\tpassword = {pw}\n"));
            for l in *lines {
                users.push_str(&format!("\t{l}\n"));
            }
        }
        nd.write_conf("upsd.users", &users);
        nd
    }

    /// The directory itself (logs go here).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// `NUT_CONFPATH`.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }
    /// `NUT_STATEPATH` and `NUT_ALTPIDPATH`.
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Write (or overwrite) a file in conf/.
    pub fn write_conf(&self, name: &str, contents: &str) {
        let p = self.conf().join(name);
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        set_mode(&p, 0o644);
    }

    /// The environment every NUT program of this setup gets.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("NUT_CONFPATH", self.conf()),
            ("NUT_STATEPATH", self.state()),
            ("NUT_ALTPIDPATH", self.state()),
        ]
    }

    /// A `Command` with this setup's environment; stdout/stderr go to `<name>.log` in the dir.
    pub fn command(&self, program: &Path, log_name: &str) -> Command {
        let mut c = Command::new(program);
        for (k, v) in self.env() {
            c.env(k, v);
        }
        let log = std::fs::File::create(self.path().join(log_name)).expect("create log");
        c.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        c
    }

    /// Run `program` with `args` and this setup's environment to completion, within
    /// `timeout`: (exit code, stdout, stderr).
    pub fn run(
        &self,
        program: &Path,
        args: &[&str],
        timeout: Duration,
    ) -> (Option<i32>, String, String) {
        let mut cmd = Command::new(program);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd.args(args);
        run_with_timeout(&mut cmd, timeout)
    }

    /// Contents of a log file written by [`NutDir::command`].
    pub fn log(&self, log_name: &str) -> String {
        std::fs::read_to_string(self.path().join(log_name)).unwrap_or_default()
    }

    /// Every `*.log` of the directory (upsd, drivers...) under a heading each, for
    /// assertion messages.
    pub fn logs(&self) -> String {
        let mut names: Vec<String> = std::fs::read_dir(self.path())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".log"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|n| format!("--- {n}:\n{}\n", self.log(n)))
            .collect()
    }
}

impl Default for NutDir {
    fn default() -> Self {
        Self::new()
    }
}

/// chmod `mode` on `p`.
pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", p.display()));
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Proc {
    /// The process.
    pub child: Child,
    /// What it is, for messages.
    pub name: String,
}

impl Proc {
    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stock dummy-ups drivers, one per UPS of the [`NutDir`].
pub struct Driver {
    /// (UPS name, process)
    pub procs: Vec<(String, Proc)>,
    /// Scripted drivers for the UPSes whose data is a `.dump` file.
    pub fakes: Vec<fake_driver::FakeDriver>,
}

impl Driver {
    /// Names of the UPSes whose dummy-ups has exited.
    pub fn exited(&mut self) -> Vec<String> {
        self.procs
            .iter_mut()
            .filter_map(|(n, p)| p.exited().map(|st| format!("{n} ({st})")))
            .collect()
    }

    /// Send a signal (`"STOP"`, `"CONT"`, `"KILL"`, ...) to the dummy-ups of `ups`.
    pub fn signal(&mut self, ups: &str, sig: &str) {
        let (_, p) = self
            .procs
            .iter_mut()
            .find(|(n, _)| n == ups)
            .unwrap_or_else(|| panic!("no driver for UPS {ups}"));
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(p.pid().to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{sig} {}", p.pid());
        if sig == "KILL" {
            let _ = p.child.wait();
        }
    }

    /// Start `dummy-ups -a <ups> -u root -F` for every UPS and wait for its socket.
    pub fn start(stock: &StockNut, dir: &NutDir) -> Driver {
        let mut procs = Vec::new();
        let mut fakes = Vec::new();
        for u in &dir.opts.upses {
            if u.is_fake() {
                let sock = dir
                    .state()
                    .join(format!("{}-{}", fake_driver::FAKE_DRIVER, u.name));
                fakes.push(fake_driver::FakeDriver::start(&sock, &data_file(&u.data)));
                continue;
            }
            let log = format!("dummy-ups-{}.log", u.name);
            let child = dir
                .command(&stock.dummy_ups, &log)
                .args(["-a", &u.name, "-u", "root", "-F"])
                .spawn()
                .expect("spawn dummy-ups");
            let mut p = Proc {
                child,
                name: format!("dummy-ups {}", u.name),
            };
            let sock = dir.state().join(format!("dummy-ups-{}", u.name));
            let t0 = Instant::now();
            while !sock.exists() {
                if let Some(st) = p.exited() {
                    panic!("dummy-ups {} exited ({st}):\n{}", u.name, dir.log(&log));
                }
                if t0.elapsed() > Duration::from_secs(10) {
                    panic!(
                        "dummy-ups {} made no socket in 10 s:\n{}",
                        u.name,
                        dir.log(&log)
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            procs.push((u.name.clone(), p));
        }
        Driver { procs, fakes }
    }
}

/// Which upsd implementation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// NUT 2.8.0's `/lib/nut/upsd`.
    Stock,
    /// Ours, `target/<profile>/upsd`.
    Ours,
}

impl Impl {
    /// The upsd program of this implementation.
    pub fn binary(self, stock: &StockNut) -> PathBuf {
        match self {
            Impl::Stock => stock.upsd.clone(),
            Impl::Ours => our_bin("upsd"),
        }
    }
}

/// A running upsd (`upsd -F -u root`), killed on drop.
pub struct Upsd {
    /// The process.
    pub proc_: Proc,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Which upsd it is.
    pub which: Impl,
}

impl Upsd {
    /// Start `binary -F -u root` on `dir` and wait until every UPS serves its ready variable
    /// (stock upsd serves only `ups.status` for 1-3 s after start). Panics with the log when
    /// the server exits or is not ready within 20 s.
    pub fn start(dir: &NutDir, binary: &Path, which: Impl) -> Upsd {
        let log = "upsd.log";
        let child = dir
            .command(binary, log)
            .args(["-F", "-u", "root"])
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut u = Upsd {
            proc_: Proc {
                child,
                name: format!("upsd ({which:?})"),
            },
            port: dir.port,
            which,
        };
        let t0 = Instant::now();
        let deadline = Duration::from_secs(20);
        let mut last = String::from("no connection yet");
        loop {
            if let Some(st) = u.proc_.exited() {
                panic!(
                    "{} ({}) exited with {st} before serving data{}:\n{}",
                    u.proc_.name,
                    binary.display(),
                    if which == Impl::Ours {
                        " -- our upsd is not implemented yet or failed to start"
                    } else {
                        ""
                    },
                    dir.log(log)
                );
            }
            if t0.elapsed() > deadline {
                panic!(
                    "{} ({}) not ready after {deadline:?} (last: {last}):\n{}",
                    u.proc_.name,
                    binary.display(),
                    dir.log(log)
                );
            }
            match Self::check_ready(dir) {
                Ok(()) => return u,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn check_ready(dir: &NutDir) -> Result<(), String> {
        let mut c = LineClient::connect(dir.port).map_err(|e| e.to_string())?;
        for ups in &dir.opts.upses {
            let query = Get::Type {
                ups: ups.name.clone(),
                var: ups.ready_var.clone(),
            };
            let r = c.ask(&Request::Get(query.clone()));
            // dummy-ups sends flags right after the value: wait for both.
            match query.parse_reply(r.trim_end()) {
                Ok(GetReply::Type { ty, .. }) if ty.rw => {}
                _ => return Err(format!("{query:?} -> {r:?}")),
            }
        }
        Ok(())
    }

    /// What upsd wrote to `upsd.log` of `dir`.
    pub fn log(&self, dir: &NutDir) -> String {
        dir.log("upsd.log")
    }
}

/// A NutDir with its drivers and an upsd: the usual unit of an end-to-end test.
/// Field order matters: upsd is dropped (killed) before the drivers, the dir last.
pub struct Rig {
    /// The server.
    pub upsd: Upsd,
    /// The drivers of the UPSes.
    pub driver: Driver,
    /// Its configuration and state.
    pub dir: NutDir,
    /// The stock programs.
    pub stock: StockNut,
}

impl Rig {
    /// Drivers for the UPSes of `opts`, then the upsd `which`.
    pub fn start(stock: &StockNut, which: Impl, opts: NutDirOptions) -> Rig {
        let dir = NutDir::with(opts);
        let driver = Driver::start(stock, &dir);
        let upsd = Upsd::start(&dir, &which.binary(stock), which);
        Rig {
            upsd,
            driver,
            dir,
            stock: stock.clone(),
        }
    }
    /// Stock dummy-ups and stock upsd, default setup.
    pub fn stock(stock: &StockNut) -> Rig {
        Self::start(stock, Impl::Stock, NutDirOptions::default())
    }
    /// Stock dummy-ups and OUR upsd (`target/<profile>/upsd`), default setup.
    pub fn ours(stock: &StockNut) -> Rig {
        Self::start(stock, Impl::Ours, NutDirOptions::default())
    }
    /// upsd's port.
    pub fn port(&self) -> u16 {
        self.upsd.port
    }
    /// `<ups>@127.0.0.1:<port>`
    pub fn target(&self, ups: &str) -> String {
        format!("{ups}@127.0.0.1:{}", self.port())
    }
    /// A new raw connection to upsd.
    pub fn client(&self) -> LineClient {
        LineClient::connect(self.port()).expect("connect to upsd")
    }
}

/// Start stock dummy-ups feeding OUR upsd (default setup); `None` if stock NUT is missing.
pub fn start_ours() -> Option<Rig> {
    let stock = stock_nut()?;
    Some(Rig::ours(&stock))
}

/// Two tests from one test function taking an [`Impl`]: `<name>::stock` runs it against stock
/// upsd (which checks the expectations themselves) and `<name>::ours` against ours (the real
/// test).
#[macro_export]
macro_rules! both_upsd {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn stock() {
                    super::$name($crate::Impl::Stock)
                }
                #[test]
                fn ours() {
                    super::$name($crate::Impl::Ours)
                }
            }
        )+
    };
}

/// What one read of a reply produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A complete reply: one line, or a `BEGIN LIST` ... `END LIST` block.
    Complete(Vec<u8>),
    /// Nothing arrived within the quiet time.
    NoReply,
    /// Bytes arrived but no complete reply before the quiet time passed.
    Partial(Vec<u8>),
    /// The server closed the connection (with the bytes received before).
    Closed(Vec<u8>),
}

impl Reply {
    /// A readable, unambiguous rendering (used in transcripts and diffs).
    pub fn render(&self) -> String {
        match self {
            Reply::Complete(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::NoReply => "<no reply>\n".into(),
            Reply::Partial(b) => format!("<partial, no newline>{}\n", escape_bytes(b)),
            Reply::Closed(b) if b.is_empty() => "<closed>\n".into(),
            Reply::Closed(b) => format!("<closed after>{}\n", escape_bytes(b)),
        }
    }
}

/// Printable rendering of raw bytes (`\n`, `\xNN`, `\\`).
pub fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02X}")),
        }
    }
    s
}

/// A raw NUT protocol client (TCP_NODELAY). Replies are read with the "quiet" rule: a reply
/// is complete when it ends with `\n` and is a single line or a `BEGIN LIST` block closed by
/// its `END LIST` line; if nothing completes within `quiet`, the read gives up.
pub struct LineClient {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
    /// How long a read waits for the next bytes of a reply.
    pub quiet: Duration,
}

impl LineClient {
    /// Connect to 127.0.0.1:`port` (2 s timeout).
    pub fn connect(port: u16) -> io::Result<LineClient> {
        let stream =
            TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))?;
        Self::from_stream(stream)
    }

    /// A client over a connected (blocking) stream.
    pub fn from_stream(stream: TcpStream) -> io::Result<LineClient> {
        stream.set_nodelay(true)?;
        Ok(LineClient {
            stream,
            buf: Vec::new(),
            closed: false,
            quiet: Duration::from_millis(300),
        })
    }

    /// Send bytes in one write.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Split a complete reply off the front of the buffer, if there is one.
    fn take_complete(&mut self) -> Option<Vec<u8>> {
        let first_end = self.buf.iter().position(|&c| c == b'\n')?;
        if !self.buf.starts_with(b"BEGIN LIST ") {
            return Some(self.buf.drain(..=first_end).collect());
        }
        let mut start = first_end + 1;
        while let Some(rel) = self.buf[start..].iter().position(|&c| c == b'\n') {
            let end = start + rel;
            if self.buf[start..end].starts_with(b"END LIST") {
                return Some(self.buf.drain(..=end).collect());
            }
            start = end + 1;
        }
        None
    }

    /// Read one reply (see [`Reply`]); waits at most `quiet` for each new chunk of bytes.
    pub fn read_reply(&mut self) -> Reply {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(r) = self.take_complete() {
                return Reply::Complete(r);
            }
            if self.closed {
                return Reply::Closed(std::mem::take(&mut self.buf));
            }
            self.stream.set_read_timeout(Some(self.quiet)).unwrap();
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    if self.buf.is_empty() {
                        return Reply::NoReply;
                    }
                    return Reply::Partial(std::mem::take(&mut self.buf));
                }
                Err(_) => self.closed = true,
            }
        }
    }

    /// Send `line` + `\n` and return the complete reply as text (panics otherwise).
    pub fn request(&mut self, line: &str) -> String {
        self.try_request(line)
            .unwrap_or_else(|e| panic!("{line:?}: expected a reply, got {e}"))
    }

    /// [`request`](Self::request) for polling loops: what came instead of a complete reply
    /// (a send error, no reply within the quiet time, a closed connection) as text.
    pub fn try_request(&mut self, line: &str) -> Result<String, String> {
        self.send(format!("{line}\n").as_bytes())
            .map_err(|e| format!("send: {e}"))?;
        match self.read_reply() {
            Reply::Complete(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            other => Err(other.render()),
        }
    }

    /// Send `request` as a stock client writes it and return the complete reply as text
    /// (panics otherwise).
    pub fn ask(&mut self, request: &Request) -> String {
        self.request(&request.to_line())
    }

    /// USERNAME + PASSWORD (both must answer exactly `OK`).
    pub fn auth(&mut self, user: &str, password: &str) {
        let ok =
            String::from_utf8_lossy(&nut_proto::Reply::Ok(OkReply::Plain).to_bytes()).into_owned();
        assert_eq!(self.ask(&Request::Username(user.into())), ok);
        assert_eq!(self.ask(&Request::Password(password.into())), ok);
    }
}

/// Run a program to completion with a timeout; returns (status code, stdout, stderr).
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> (Option<i32>, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    loop {
        if let Some(_st) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} did not finish in {timeout:?}; stdout: {} stderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
