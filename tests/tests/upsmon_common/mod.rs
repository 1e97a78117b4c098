//! Helpers shared by the upsmon end-to-end tests: a upsmon.conf per role with recording
//! NOTIFYCMD and SHUTDOWNCMD scripts, starting stock or our upsmon, and waiting.

#![allow(dead_code)]

use nut_rs_tests::{our_bin, run_with_timeout, Proc, Rig};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Which upsmon runs a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mon {
    Stock,
    Ours,
}

pub const EVENTS: &[&str] = &[
    "ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN", "REPLBATT", "NOCOMM",
];

/// A configured upsmon (not started yet).
pub struct MonDir {
    pub dir: PathBuf,
    pub role: String,
    pub mon: Mon,
}

impl MonDir {
    pub fn notify_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("notify.log")).unwrap_or_default()
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("upsmon.log")).unwrap_or_default()
    }
    pub fn flag(&self) -> PathBuf {
        self.dir.join("killpower")
    }
}

pub fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Write `<rig>/upsmon-<role>/upsmon.conf` with a NOTIFYCMD that appends
/// `$NOTIFYTYPE|$UPSNAME|$1` to `notify.log` and a SHUTDOWNCMD that appends
/// `<role> <time>` to the rig's `shutdown.order`. `extra` lines are appended.
pub fn upsmon_conf(rig: &Rig, mon: Mon, role: &str, user: &str, pw: &str, extra: &str) -> MonDir {
    let dir = rig.dir.path().join(format!("upsmon-{role}"));
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
         SHUTDOWNCMD \"/bin/sh {shutdown} {role}\"\n\
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
    let p = dir.join("upsmon.conf");
    std::fs::write(&p, conf).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
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

/// Start the upsmon of `md` with these arguments (ours) or `-D -p` (stock) and extra
/// environment, in a process group of its own; output to `<dir>/upsmon.log`.
pub fn start_upsmon_with(
    rig: &Rig,
    md: &MonDir,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> Proc {
    let log = std::fs::File::create(md.dir.join("upsmon.log")).unwrap();
    let mut cmd = match md.mon {
        Mon::Stock => {
            let mut c = Command::new("unshare");
            c.args([
                "-m",
                "sh",
                "-c",
                "mkdir -p /run/nut && mount -t tmpfs tmpfs /run/nut && exec \"$0\" -D -p",
            ])
            .arg(&rig.stock.upsmon);
            c
        }
        Mon::Ours => {
            let mut c = Command::new(our_bin("upsmon"));
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

use std::os::unix::process::CommandExt;

pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t0.elapsed() < timeout,
            "timed out ({timeout:?}) waiting for {what}:\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn set_status(rig: &Rig, status: &str) {
    let (code, _, err) = run_with_timeout(
        Command::new(&rig.stock.upsrw).args([
            "-s",
            &format!("ups.status={status}"),
            "-u",
            "admin",
            "-p",
            "adminpw",
            &rig.target("ups"),
        ]),
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(0), "upsrw: {err}");
}

pub fn numlogins(rig: &Rig) -> String {
    rig.client().request("GET NUMLOGINS ups")
}

/// `upsmon -K` of ours with the config of `md`.
pub fn killpower_check(md: &MonDir) -> Option<i32> {
    let (code, _, _) = run_with_timeout(
        Command::new(our_bin("upsmon"))
            .arg("-K")
            .env("NUT_CONFPATH", &md.dir),
        Duration::from_secs(10),
    );
    code
}

/// The lines of the notify log with this type, as `type|upsname|message`.
pub fn notified(md: &MonDir, event: &str) -> Vec<String> {
    md.notify_log()
        .lines()
        .filter(|l| l.starts_with(&format!("{event}|")))
        .map(|l| l.rsplit_once('|').unwrap().0.to_string())
        .collect()
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

/// (real, effective) uid of a live process.
pub fn uids(pid: u32) -> (u32, u32) {
    let u = nut_rs_tests::daemon::proc_uids(pid);
    (u[0], u[1])
}

pub fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
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

/// An HTTP server on 127.0.0.1 answering every request with 200 (and `reply` as body);
/// returns its port and the requests received.
pub fn http_server(reply: &'static str) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Request>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            if let Some(req) = serve_one(&mut s, reply) {
                g.lock().unwrap().push(req);
            }
        }
    });
    (port, got)
}

/// The same over TLS, with the certificate chain and key of `certfile_pem` (PEM).
pub fn https_server(
    certfile_pem: &str,
    reply: &'static str,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Request>>>) {
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
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(tcp) = s else { continue };
            let Ok(conn) = rustls::ServerConnection::new(cfg.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            if let Some(req) = serve_one(&mut tls, reply) {
                g.lock().unwrap().push(req);
            }
            tls.conn.send_close_notify();
            let _ = std::io::Write::flush(&mut tls);
        }
    });
    (port, got)
}
