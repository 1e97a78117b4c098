//! Helpers shared by the upsmon end-to-end tests: a upsmon.conf per role with recording
//! NOTIFYCMD and SHUTDOWNCMD scripts, starting stock or our upsmon, and waiting.

pub use crate::daemon::wait_until;
use crate::{our_bin, run_with_timeout, set_mode, Proc, Rig};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Which upsmon runs a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mon {
    /// NUT 2.8.0's `/lib/nut/upsmon`.
    Stock,
    /// Ours, `target/<profile>/upsmon`.
    Ours,
}

/// The events every test upsmon.conf sends to NOTIFYCMD (`NOTIFYFLAG <event> SYSLOG+EXEC`).
pub const EVENTS: &[&str] = &[
    "ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN", "REPLBATT", "NOCOMM",
];

/// A configured upsmon (not started yet).
pub struct MonDir {
    /// Where its upsmon.conf, scripts, logs and PID file are.
    pub dir: PathBuf,
    /// `primary` or `secondary`.
    pub role: String,
    /// Which upsmon runs it.
    pub mon: Mon,
}

impl MonDir {
    /// What NOTIFYCMD recorded (`TYPE|UPSNAME|message` lines).
    pub fn notify_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("notify.log")).unwrap_or_default()
    }
    /// upsmon's own output.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("upsmon.log")).unwrap_or_default()
    }
    /// Both logs under headings naming the role, for assertion messages.
    pub fn logs(&self) -> String {
        format!(
            "--- {} upsmon ({:?}):\n{}\n--- {} notify.log:\n{}\n",
            self.role,
            self.mon,
            self.log(),
            self.role,
            self.notify_log()
        )
    }
    /// The POWERDOWNFLAG file.
    pub fn flag(&self) -> PathBuf {
        self.dir.join("killpower")
    }
}

/// A `#!/bin/sh` script at `path` running `body`, executable.
pub fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    set_mode(path, 0o755);
}

/// Write `<rig>/upsmon-<role>/upsmon.conf` with a NOTIFYCMD that appends
/// `$NOTIFYTYPE|$UPSNAME|$1` to `notify.log` and a SHUTDOWNCMD that appends
/// `<role> <time>` to the rig's `shutdown.order`. `extra` lines are appended.
pub fn upsmon_conf(rig: &Rig, mon: Mon, role: &str, user: &str, pw: &str, extra: &str) -> MonDir {
    upsmon_conf_named(rig, mon, role, role, user, pw, extra)
}

/// The rig's upsd.users login of a role: `upsmon`/`pw` (upsmon primary) for `primary`,
/// `monuser`/`secret` (upsmon secondary, as a Synology NAS has it) otherwise.
pub fn login_of(role: &str) -> (&'static str, &'static str) {
    match role {
        "primary" => ("upsmon", "pw"),
        _ => ("monuser", "secret"),
    }
}

/// [`upsmon_conf`] with the rig's login for `role` ([`login_of`]).
pub fn role_conf(rig: &Rig, mon: Mon, role: &str, extra: &str) -> MonDir {
    let (user, pw) = login_of(role);
    upsmon_conf(rig, mon, role, user, pw, extra)
}

/// [`upsmon_conf`] for one of several hosts of the same role: `name` (instead of the role)
/// names its directory `upsmon-<name>` and is what its SHUTDOWNCMD writes to `shutdown.order`.
pub fn upsmon_conf_named(
    rig: &Rig,
    mon: Mon,
    name: &str,
    role: &str,
    user: &str,
    pw: &str,
    extra: &str,
) -> MonDir {
    let dir = rig.dir.path().join(format!("upsmon-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let shutdown = dir.join("shutdown.sh");
    let order = rig.dir.path().join("shutdown.order");
    write_script(
        &shutdown,
        &format!("echo \"$1 $(date +%s.%N)\" >> '{}'\n", order.display()),
    );
    let notify = dir.join("notify.sh");
    write_script(
        &notify,
        &format!(
            "echo \"$NOTIFYTYPE|$UPSNAME|$1|$(date +%s.%N)\" >> '{}'\n",
            dir.join("notify.log").display()
        ),
    );
    let mut conf = format!(
        "MONITOR {target} 1 {user} {pw} {role}\n\
         MINSUPPLIES 1\n\
         SHUTDOWNCMD \"/bin/sh {shutdown} {name}\"\n\
         NOTIFYCMD {notify}\n\
         POWERDOWNFLAG {flag}\n\
         POLLFREQ 1\n\
         POLLFREQALERT 1\n\
         HOSTSYNC 5\n\
         DEADTIME 3\n\
         FINALDELAY 1\n\
         NOCOMMWARNTIME 300\n",
        target = rig.target("ups"),
        shutdown = shutdown.display(),
        notify = notify.display(),
        flag = dir.join("killpower").display(),
    );
    for e in EVENTS {
        conf.push_str(&format!("NOTIFYFLAG {e} SYSLOG+EXEC\n"));
    }
    conf.push_str(extra);
    write_upsmon_conf(dir, name, mon, &conf)
}

/// Write `conf` to `<dir>/upsmon.conf` (mode 0600, as upsmon wants it).
pub fn write_upsmon_conf(dir: PathBuf, role: &str, mon: Mon, conf: &str) -> MonDir {
    let p = dir.join("upsmon.conf");
    std::fs::write(&p, conf).unwrap();
    set_mode(&p, 0o600);
    MonDir {
        dir,
        role: role.into(),
        mon,
    }
}

/// Start the upsmon of `md` in the foreground (`-D`) as one process (`-p`); output to
/// `<dir>/upsmon.log`.
pub fn start_upsmon(rig: &Rig, md: &MonDir) -> Proc {
    start_upsmon_with(rig, md, &["-D", "-p"], &[])
}

/// Start the upsmon of `md` with these arguments and extra environment (stock upsmon in a
/// mount namespace of its own with a private /run/nut for its PID file), in a process group of
/// its own; output to `<dir>/upsmon.log`.
pub fn start_upsmon_with(
    rig: &Rig,
    md: &MonDir,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> Proc {
    spawn_upsmon(rig, md, args, env, |p: &Path| Command::new(p))
}

/// [`start_upsmon`] inside the network namespace `ns` (through `ip netns exec`: the PID is
/// still upsmon's).
pub fn start_upsmon_in(rig: &Rig, md: &MonDir, ns: &crate::netns::NetNs) -> Proc {
    spawn_upsmon(rig, md, &["-D", "-p"], &[], |program| {
        crate::netns::exec_in(ns, program.as_ref())
    })
}

/// Spawn the upsmon of `md`; `command` makes the [`Command`] for a program.
fn spawn_upsmon(
    rig: &Rig,
    md: &MonDir,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    command: impl Fn(&Path) -> Command,
) -> Proc {
    let log = std::fs::File::create(md.dir.join("upsmon.log")).unwrap();
    let mut cmd = match md.mon {
        Mon::Stock => {
            let mut c = command(Path::new("unshare"));
            c.args([
                "-m",
                "sh",
                "-c",
                "mkdir -p /run/nut && mount -t tmpfs tmpfs /run/nut && exec \"$0\" \"$@\"",
            ])
            .arg(&rig.stock.upsmon)
            .args(args);
            c
        }
        Mon::Ours => {
            let mut c = command(&our_bin("upsmon"));
            c.args(args);
            c
        }
    };
    cmd.envs(env.iter().copied());
    let child = cmd
        .env("NUT_CONFPATH", &md.dir)
        .env("NUT_STATEPATH", rig.dir.state())
        .env("NUT_ALTPIDPATH", &md.dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("spawn upsmon");
    Proc {
        child,
        name: format!("upsmon {:?} {}", md.mon, md.role),
    }
}

/// Nothing of a shutdown happened: `upsmon` still runs, no SHUTDOWN was notified, no
/// SHUTDOWNCMD ran, no POWERDOWNFLAG was written, and upsd shows `status` for `ups` (no FSD).
pub fn assert_no_shutdown(
    rig: &Rig,
    md: &MonDir,
    upsmon: &mut Proc,
    status: &str,
    logs: impl Fn() -> String,
) {
    assert!(upsmon.exited().is_none(), "upsmon exited: {}", logs());
    assert!(notified(md, "SHUTDOWN").is_empty(), "{}", logs());
    assert!(!shutdown_order(rig).exists(), "SHUTDOWNCMD ran: {}", logs());
    assert!(!md.flag().exists(), "POWERDOWNFLAG written: {}", logs());
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        format!("VAR ups ups.status \"{status}\"\n"),
        "{}",
        logs()
    );
}

/// `upsrw -s <var>=<value>` with stock upsrw as admin on the UPS `ups` of the rig.
pub fn set_var(rig: &Rig, ups: &str, var: &str, value: &str) {
    let (code, out, err) = run_with_timeout(
        Command::new(&rig.stock.upsrw).args([
            "-s",
            &format!("{var}={value}"),
            "-u",
            "admin",
            "-p",
            "adminpw",
            &rig.target(ups),
        ]),
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(0), "upsrw -s {var}={value}: {out}{err}");
}

/// Set `ups.status` of the UPS `ups` (dummy-ups passes it on as the driver's status).
pub fn set_status(rig: &Rig, status: &str) {
    set_var(rig, "ups", "ups.status", status);
}

/// Set `ups.status` (as [`set_status`]) and wait (within `timeout`) for NOTIFYCMD of `md` to
/// run for `event`; the seconds from just before the set to the time NOTIFYCMD recorded.
pub fn seconds_to_notified(
    rig: &Rig,
    status: &str,
    md: &MonDir,
    event: &str,
    timeout: Duration,
    context: impl Fn() -> String,
) -> f64 {
    let t0 = crate::usbhid::epoch_now();
    set_status(rig, status);
    let at = wait_until(
        event,
        timeout,
        || notified_at(md, event).first().copied(),
        context,
    );
    at - t0
}

/// upsd's reply to `GET NUMLOGINS ups`.
pub fn numlogins(rig: &Rig) -> String {
    rig.client().request("GET NUMLOGINS ups")
}

/// Wait (`what`, within `timeout`) until `n` clients are logged into the UPS `ups`.
pub fn wait_logins(
    rig: &Rig,
    n: usize,
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
) {
    let want = format!("NUMLOGINS ups {n}\n");
    wait_until(
        what,
        timeout,
        || (numlogins(rig) == want).then_some(()),
        context,
    );
}

/// Wait (`what`, within `timeout`) until upsd shows FSD in the status of the UPS `ups`.
pub fn wait_fsd(rig: &Rig, what: &str, timeout: Duration, context: impl Fn() -> String) {
    let mut c = rig.client();
    wait_until(
        what,
        timeout,
        || {
            c.request("GET VAR ups ups.status")
                .contains("FSD")
                .then_some(())
        },
        context,
    );
}

/// The rig's `shutdown.order`: every SHUTDOWNCMD of [`upsmon_conf`] appends a line to it.
pub fn shutdown_order(rig: &Rig) -> PathBuf {
    rig.dir.path().join("shutdown.order")
}

/// Wait (`what`, within `timeout`) until [`shutdown_order`] has `n` lines (`n` SHUTDOWNCMDs
/// ran); returns its text.
pub fn wait_shutdowns(
    rig: &Rig,
    n: usize,
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
) -> String {
    let order = shutdown_order(rig);
    wait_until(
        what,
        timeout,
        || {
            let t = std::fs::read_to_string(&order).unwrap_or_default();
            (t.lines().count() >= n).then_some(t)
        },
        context,
    )
}

/// The roles in a [`shutdown_order`] text, in the order their SHUTDOWNCMDs ran.
pub fn shutdown_roles(order: &str) -> Vec<&str> {
    order
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect()
}

/// Our upsmon with `args`, configured by (`NUT_CONFPATH`) and keeping its PID file in
/// (`NUT_ALTPIDPATH`) `dir`.
pub fn our_upsmon(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(our_bin("upsmon"));
    c.args(args)
        .env("NUT_CONFPATH", dir)
        .env("NUT_ALTPIDPATH", dir);
    c
}

/// `upsmon -c <cmd>` (stop, reload, fsd) to the running upsmon of `dir`; must exit 0.
pub fn upsmon_command(dir: &Path, cmd: &str) {
    let (code, _, err) =
        run_with_timeout(&mut our_upsmon(dir, &["-c", cmd]), Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
}

/// `upsmon -K` of ours with the config of `md`.
pub fn killpower_check(md: &MonDir) -> Option<i32> {
    let (code, _, _) = run_with_timeout(&mut our_upsmon(&md.dir, &["-K"]), Duration::from_secs(10));
    code
}

/// The lines of the notify log with this type, as NOTIFYCMD wrote them
/// (`type|upsname|message|<time or user>`).
pub fn notified_lines(md: &MonDir, event: &str) -> Vec<String> {
    md.notify_log()
        .lines()
        .filter(|l| l.starts_with(&format!("{event}|")))
        .map(str::to_string)
        .collect()
}

/// A notify log line without its last field (time or user): `type|upsname|message`.
fn without_last_field(line: &str) -> String {
    line.rsplit_once('|').unwrap().0.to_string()
}

/// Every line of the notify log, as `type|upsname|message`.
pub fn notifications(md: &MonDir) -> Vec<String> {
    md.notify_log().lines().map(without_last_field).collect()
}

/// The lines of the notify log with this type, as `type|upsname|message`.
pub fn notified(md: &MonDir, event: &str) -> Vec<String> {
    notified_lines(md, event)
        .iter()
        .map(|l| without_last_field(l))
        .collect()
}

/// The time (seconds since the epoch) NOTIFYCMD recorded on each `event` line.
pub fn notified_at(md: &MonDir, event: &str) -> Vec<f64> {
    notified_lines(md, event)
        .iter()
        .map(|l| l.rsplit('|').next().unwrap().parse().unwrap())
        .collect()
}

/// Wait (`what`, within `timeout`) until NOTIFYCMD got `n` notifications of `event`.
pub fn wait_notified(
    md: &MonDir,
    event: &str,
    n: usize,
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
) {
    wait_until(
        what,
        timeout,
        || (notified(md, event).len() >= n).then_some(()),
        context,
    );
}

/// Kills the whole process group of an upsmon (parent, child and their scripts) on drop.
pub struct Group(pub Proc);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.pid())])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The parent PID of a process, `None` once it is gone.
pub fn ppid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}

/// Whether a process has ended: gone from /proc, or a zombie that its parent (init, for an
/// orphan) has not reaped yet.
pub fn has_exited(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // the state follows the command name, which is in parentheses and may hold anything
    let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
    state.is_some_and(|s| s.starts_with('Z'))
}

/// (real, effective) uid of a live process.
pub fn uids(pid: u32) -> (u32, u32) {
    let u = crate::daemon::proc_uids(pid);
    (u[0], u[1])
}

/// Let the `nut` child reach its scripts and write its logs, and make both scripts record
/// the user they ran as: NOTIFYCMD `TYPE|UPSNAME|message|user`, SHUTDOWNCMD `role user`.
pub fn open_for_nut(rig: &Rig, md: &MonDir) {
    set_mode(rig.dir.path(), 0o755);
    set_mode(&md.dir, 0o777);
    let order = rig.dir.path().join("shutdown.order");
    std::fs::write(&order, "").unwrap();
    set_mode(&order, 0o666);
    write_script(
        &md.dir.join("shutdown.sh"),
        &format!("echo \"$1 $(id -un)\" >> '{}'\n", order.display()),
    );
    write_script(
        &md.dir.join("notify.sh"),
        &format!(
            "echo \"$NOTIFYTYPE|$UPSNAME|$1|$(id -un)\" >> '{}'\n",
            md.dir.join("notify.log").display()
        ),
    );
    set_mode(&md.dir.join("upsmon.conf"), 0o644);
}

/// The PID in `<dir>/upsmon.pid` once the child has written it.
pub fn child_pid(md: &MonDir) -> u32 {
    wait_until(
        "the PID file",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(md.dir.join("upsmon.pid"))
                .ok()?
                .trim()
                .parse()
                .ok()
        },
        || md.log(),
    )
}

/// One request a test HTTP server got: (request line, headers, body).
pub type Request = (String, Vec<String>, String);

/// Read one HTTP/1.1 request from `s`, answer 200 with `reply` as a JSON body (none if
/// empty).
fn serve_one<S: std::io::Read + std::io::Write>(s: &mut S, reply: &str) -> Option<Request> {
    use std::io::{BufRead, BufReader, Read};
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    let mut len = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        headers.push(h.trim_end().to_string());
    }
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
    let answer = match reply {
        "" => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string(),
        _ => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        ),
    };
    let s = r.into_inner();
    let _ = s.write_all(answer.as_bytes());
    let _ = s.flush();
    Some((
        line.trim_end().to_string(),
        headers,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// The requests a test HTTP server received, in order.
pub type Requests = std::sync::Arc<std::sync::Mutex<Vec<Request>>>;

/// A server on 127.0.0.1 that hands every connection to `handle` and records the request
/// it returns; returns its port and the requests received.
fn server(
    mut handle: impl FnMut(std::net::TcpStream) -> Option<Request> + Send + 'static,
) -> (u16, Requests) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Requests::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            if let Some(req) = handle(s) {
                g.lock().unwrap().push(req);
            }
        }
    });
    (port, got)
}

/// When a test HTTP server received each request (seconds since the epoch), in order.
pub type Arrivals = std::sync::Arc<std::sync::Mutex<Vec<f64>>>;

/// [`http_server`] that also notes when each request arrived.
pub fn http_server_timed(reply: &'static str) -> (u16, Requests, Arrivals) {
    let at = Arrivals::default();
    let a = at.clone();
    let (port, got) = server(move |mut s| {
        let req = serve_one(&mut s, reply)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        a.lock().unwrap().push(now);
        Some(req)
    });
    (port, got, at)
}

/// An HTTP server on 127.0.0.1 answering every request with 200 (and `reply` as body);
/// returns its port and the requests received.
pub fn http_server(reply: &'static str) -> (u16, Requests) {
    server(move |mut s| serve_one(&mut s, reply))
}

/// The same over TLS, with the certificate chain and key of `certfile_pem` (PEM).
pub fn https_server(certfile_pem: &str, reply: &'static str) -> (u16, Requests) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(certfile_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(certfile_pem.as_bytes()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    server(move |tcp| {
        let conn = rustls::ServerConnection::new(cfg.clone()).ok()?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let req = serve_one(&mut tls, reply);
        tls.conn.send_close_notify();
        let _ = std::io::Write::flush(&mut tls);
        req
    })
}
