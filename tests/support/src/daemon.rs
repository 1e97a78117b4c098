//! Helpers for lifecycle tests of our upsd: start it with any command line, start and stop
//! single dummy-ups drivers, send signals, poll for a condition, and make a test PKI for
//! STARTTLS (a CA and a server certificate for `127.0.0.1` and `localhost`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nut_proto::{Get, GetReply, List, Request};

use crate::{our_bin, LineClient, NutDir, Proc, Reply, StockNut};

/// Poll `f` every 20 ms until it gives `Some`; after `timeout`, panic naming `what`, with
/// `context()` (logs, the last state seen).
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
            "timed out after {timeout:?} waiting for {what}:\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_until`] where `f` reports the last state it saw through `last`, which the panic
/// message shows.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut(&mut String) -> Option<T>,
) -> T {
    let last = std::cell::RefCell::new(String::new());
    wait_until(
        what,
        timeout,
        || f(&mut last.borrow_mut()),
        || format!("last: {}", last.borrow()),
    )
}

/// The output of `child` (its stdout and stderr piped), read while it runs so a full pipe
/// cannot stall it; if it has not ended after `limit`, it is killed and the test fails
/// naming `what`.
pub fn output_within(child: std::process::Child, limit: Duration, what: &str) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for the child"),
        Err(_) => {
            signal(pid, "KILL");
            panic!("{what} did not finish in {limit:?}");
        }
    }
}

/// Send a signal (`HUP`, `STOP`, `CONT`, `TERM`...) to a process with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -s {sig} {pid} failed");
}

/// Start OUR upsd on `dir` with `args` (stdout and stderr to `upsd.log`), without waiting.
pub fn spawn_upsd(dir: &NutDir, args: &[&str]) -> Proc {
    spawn_upsd_bin(dir, &our_bin("upsd"), args)
}

/// Start the upsd `binary` (ours or stock) like [`spawn_upsd`].
pub fn spawn_upsd_bin(dir: &NutDir, binary: &Path, args: &[&str]) -> Proc {
    let child = dir
        .command(binary, "upsd.log")
        .args(args)
        .spawn()
        .expect("spawn our upsd");
    Proc {
        child,
        name: format!("upsd {}", args.join(" ")),
    }
}

/// Start OUR upsd with `args` and wait until it answers `LIST UPS` (not for driver data).
pub fn start_upsd(dir: &NutDir, args: &[&str]) -> Proc {
    start_upsd_bin(dir, &our_bin("upsd"), args)
}

/// Start the upsd `binary` (ours or stock) like [`start_upsd`].
pub fn start_upsd_bin(dir: &NutDir, binary: &Path, args: &[&str]) -> Proc {
    let mut p = spawn_upsd_bin(dir, binary, args);
    wait_for("upsd to answer LIST UPS", Duration::from_secs(10), |last| {
        if let Some(st) = p.exited() {
            panic!("upsd exited ({st}):\n{}", dir.log("upsd.log"));
        }
        let mut c = LineClient::connect(dir.port)
            .map_err(|e| *last = e.to_string())
            .ok()?;
        // a busy machine (a TCG guest) may answer after the quiet time: not yet, no panic
        let r = c
            .try_request(&Request::List(List::Ups).to_line())
            .map_err(|e| *last = e)
            .ok()?;
        *last = r.clone();
        List::Ups.parse_begin(r.lines().next()?).ok()
    });
    p
}

/// Wait until `GET VAR <ups> <var>` gives a value; returns the reply line.
pub fn wait_var(port: u16, ups: &str, var: &str, timeout: Duration) -> String {
    let query = Get::Var {
        ups: ups.into(),
        var: var.into(),
    };
    wait_for(&format!("{ups} {var} to be served"), timeout, |last| {
        let mut c = LineClient::connect(port).ok()?;
        let r = c.ask(&Request::Get(query.clone()));
        *last = r.clone();
        let served = matches!(query.parse_reply(r.trim_end()), Ok(GetReply::Var { .. }));
        served.then_some(r)
    })
}

/// Wait until `request` (on a new connection) answers exactly `reply`; returns the time taken.
pub fn wait_reply(port: u16, request: &str, reply: &str, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    wait_for(&format!("{request:?} -> {reply:?}"), timeout, |last| {
        let mut c = LineClient::connect(port).ok()?;
        let r = c.request(request);
        *last = r.clone();
        (r == reply).then_some(())
    });
    t0.elapsed()
}

/// Start stock dummy-ups for one UPS of `dir` (`-u <user> -F`), after removing a socket left
/// by an earlier, killed instance; waits for the new socket.
pub fn start_driver(stock: &StockNut, dir: &NutDir, ups: &str, user: &str) -> Proc {
    let sock = dir.state().join(format!("dummy-ups-{ups}"));
    let _ = std::fs::remove_file(&sock);
    let log = format!("dummy-ups-{ups}.log");
    let child = dir
        .command(&stock.dummy_ups, &log)
        .args(["-a", ups, "-u", user, "-F"])
        .spawn()
        .expect("spawn dummy-ups");
    let mut p = Proc {
        child,
        name: format!("dummy-ups {ups}"),
    };
    wait_for(
        &format!("dummy-ups {ups} socket"),
        Duration::from_secs(10),
        |_| {
            if let Some(st) = p.exited() {
                panic!("dummy-ups {ups} exited ({st}):\n{}", dir.log(&log));
            }
            sock.exists().then_some(())
        },
    );
    p
}

/// Read replies until the server closes the connection; panics if it does not within `timeout`.
pub fn wait_closed(c: &mut LineClient, timeout: Duration) {
    let t0 = Instant::now();
    loop {
        match c.read_reply() {
            Reply::Closed(_) => return,
            Reply::NoReply if t0.elapsed() < timeout => {}
            other => panic!("expected the connection to close, got {}", other.render()),
        }
    }
}

/// Run our upsd to completion (for `-V`, `-c`, start-up errors): (exit code, stdout, stderr).
pub fn run_upsd(dir: &NutDir, args: &[&str]) -> (Option<i32>, String, String) {
    run_upsd_bin(dir, &our_bin("upsd"), args)
}

/// Run the upsd `binary` (ours or stock) like [`run_upsd`].
pub fn run_upsd_bin(dir: &NutDir, binary: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    dir.run(binary, args, Duration::from_secs(10))
}

/// Real, effective, saved and filesystem uid of a process (`Uid:` of `/proc/<pid>/status`).
pub fn proc_uids(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .expect("Uid line")
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect()
}

/// uid of a user from `id -u`, if the user exists.
pub fn user_uid(name: &str) -> Option<u32> {
    let out = Command::new("id")
        .args(["-u", name])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// True when this test runs as root.
pub fn is_root() -> bool {
    user_uid_of_self() == 0
}

fn user_uid_of_self() -> u32 {
    proc_uids(std::process::id())[1]
}

/// A test PKI: a CA, and a server certificate for `127.0.0.1` and `localhost` signed by it.
pub struct TestPki {
    /// The CA certificate (PEM).
    pub ca_pem: String,
    /// Server certificate, then the CA certificate, then the server's private key (PEM):
    /// what upsd.conf's CERTFILE holds.
    pub certfile_pem: String,
    /// A client certificate (CN `nut-rs test client`) signed by the CA, and its key (PEM).
    pub client_cert_pem: String,
    /// The client certificate's private key (PEM).
    pub client_key_pem: String,
}

impl TestPki {
    /// A fresh CA named `ca_name`, a server certificate for `127.0.0.1` and `localhost`, and
    /// a client certificate, all signed by it.
    pub fn new(ca_name: &str) -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let cert = params.signed_by(&key, &issuer).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .distinguished_name
            .push(DnType::CommonName, "nut-rs test client");
        client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &issuer).unwrap();
        TestPki {
            ca_pem: ca_cert.pem(),
            certfile_pem: format!("{}{}{}", cert.pem(), ca_cert.pem(), key.serialize_pem()),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    /// Write `ca.pem` and `upsd.pem` (the CERTFILE) into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let ca = dir.join("ca.pem");
        let certfile = dir.join("upsd.pem");
        std::fs::write(&ca, &self.ca_pem).unwrap();
        std::fs::write(&certfile, &self.certfile_pem).unwrap();
        (ca, certfile)
    }
}
