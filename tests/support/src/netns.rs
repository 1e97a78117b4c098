//! Network namespaces made by a test, for faults with real processes: a server namespace and
//! client namespaces joined by one veth pair each ([`Star`]), partitions (link down, nftables
//! drop rules), packet loss (nftables `numgen random`) and delay ([`DelayProxy`], a userspace
//! TCP relay: the test machines' kernels have no netem). Everything is deleted on drop, also
//! when the test panics; names carry the test process's PID, so tests run in parallel and a
//! later run removes what a killed run left behind.
//!
//! A thread of the test process enters a namespace with [`run_in`] (`setns`, which moves only
//! the calling thread): the sockets it opens and the processes it spawns live there, so
//! [`crate::Rig`] and its helpers work unchanged inside the server namespace. Processes go
//! into another namespace through [`exec_in`] (`ip netns exec`, which execs the program: the
//! PID is the program's).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Prefix of every namespace the tests make: `nutrs-<pid>-<n>-<role>`.
const PREFIX: &str = "nutrs-";

/// Whether this machine can run the namespace tests: root, `ip netns`, veth and nftables.
/// `false` (after printing why) skips the test, except under `CI=true`, where it panics.
pub fn available() -> bool {
    let Err(why) = probe() else { return true };
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "network namespace tests cannot run ({why}); CI must run them: as root, with \
             iproute2 and nftables installed (apt-get install -y iproute2 nftables)"
        );
    }
    eprintln!("skipping: network namespace tests cannot run ({why})");
    false
}

/// Why the namespace tests cannot run here, if they cannot: root, the tools, then a namespace
/// with a veth pair and an nftables rule with `numgen` made and deleted.
fn probe() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("not root".into());
    }
    for (tool, arg) in [("ip", "-V"), ("nft", "--version")] {
        match Command::new(tool).arg(arg).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => return Err(format!("`{tool} {arg}` failed: {o:?}")),
            Err(e) => return Err(format!("`{tool}` not found: {e}")),
        }
    }
    let probe = NetNs::try_new("probe")?;
    try_run(Command::new("ip").args([
        "-n",
        &probe.name,
        "link",
        "add",
        "p0",
        "type",
        "veth",
        "peer",
        "name",
        "p1",
    ]))?;
    try_nft(
        &probe.name,
        "table inet nutrs {\n chain input {\n type filter hook input priority 0;\n \
         numgen random mod 100 < 10 drop\n }\n}",
    )?;
    Ok(())
}

/// A named network namespace (`ip netns add`), deleted on drop with every link in it.
#[derive(Debug)]
pub struct NetNs {
    /// Its name under /run/netns.
    pub name: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl NetNs {
    /// A new namespace `nutrs-<pid>-<n>-<role>` with `lo` up. Namespaces left by test
    /// processes that are gone are removed first.
    pub fn new(role: &str) -> NetNs {
        Self::try_new(role).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_new(role: &str) -> Result<NetNs, String> {
        remove_stale();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}-{role}", std::process::id());
        try_run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = NetNs { name };
        try_run(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]))?;
        Ok(ns)
    }

    /// `ip -n <ns> <args>`; panics with ip's error when it fails.
    pub fn ip(&self, args: &[&str]) {
        try_run(Command::new("ip").arg("-n").arg(&self.name).args(args))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Replace the whole nftables ruleset of the namespace with `rules` (one `nft -f`
    /// transaction: `flush ruleset` then `rules`).
    pub fn nft(&self, rules: &str) {
        try_nft(&self.name, rules).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// Delete `nutrs-<pid>-...` namespaces whose test process is gone (a killed run).
fn remove_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip")
                .args(["netns", "del", &name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Run `cmd` to completion; its error output in the error when it fails.
fn try_run(cmd: &mut Command) -> Result<(), String> {
    try_run_with(cmd, "")
}

/// Run `cmd` with `input` on its standard input.
fn try_run_with(cmd: &mut Command, input: &str) -> Result<(), String> {
    let what = format!("{cmd:?}");
    let fail = |e: std::io::Error| format!("{what}: {e}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(fail)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(fail)?;
    }
    let o = child.wait_with_output().map_err(fail)?;
    if o.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {}{}",
        o.status,
        String::from_utf8_lossy(&o.stderr).trim_end(),
        if input.is_empty() {
            String::new()
        } else {
            format!("\ninput:\n{input}")
        }
    ))
}

/// Replace the nftables ruleset of the namespace `ns` by `rules` in one transaction.
fn try_nft(ns: &str, rules: &str) -> Result<(), String> {
    let script = format!("flush ruleset\n{rules}\n");
    try_run_with(
        Command::new("ip").args(["netns", "exec", ns, "nft", "-f", "-"]),
        &script,
    )
}

/// Run `f` on a new thread (named as the caller) that entered the namespace `ns` (sockets,
/// listeners and spawned processes of that thread live there; its own new threads too); a
/// panic in `f` goes on in the caller.
pub fn run_in<T: Send>(ns: &NetNs, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{}", ns.name);
    let name = std::thread::current().name().map(str::to_string);
    std::thread::scope(|s| {
        let mut b = std::thread::Builder::new();
        if let Some(n) = name {
            b = b.name(n);
        }
        let h = b
            .spawn_scoped(s, move || {
                enter(&path);
                f()
            })
            .unwrap_or_else(|e| panic!("spawn a thread: {e}"));
        match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// Move the calling thread into the network namespace at `path`.
fn enter(path: &str) {
    let fd = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET)
        .unwrap_or_else(|e| panic!("setns {path}: {e}"));
}

/// A command running `program` inside the namespace `ns` (`ip netns exec <ns> <program>`);
/// the caller adds the arguments and environment.
pub fn exec_in(ns: &NetNs, program: &std::ffi::OsStr) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &ns.name]).arg(program);
    c
}

/// A fault applied to the traffic between the server and one client, by nftables rules in
/// the server namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every packet dropped, both ways.
    Drop,
    /// The server's packets to the client dropped (the client's still arrive).
    DropToClient,
    /// Each packet dropped with this probability in percent, both ways.
    Loss(u8),
}

/// A server namespace and `n` client namespaces, each client joined to the server by its own
/// veth pair: `cI` (10.77.I.1/24) in the server namespace, `eth0` (10.77.I.2/24) in client
/// I's, for I = 1..=n.
pub struct Star {
    /// The client namespaces, client 1 first. (Dropped before the server's.)
    pub clients: Vec<NetNs>,
    /// The server namespace.
    pub server: NetNs,
}

impl Star {
    /// Make the namespaces and links, all up.
    pub fn new(n: usize) -> Star {
        let server = NetNs::new("srv");
        let mut clients = Vec::new();
        for i in 1..=n {
            let c = NetNs::new(&format!("c{i}"));
            try_run(Command::new("ip").args([
                "link",
                "add",
                &format!("c{i}"),
                "netns",
                &server.name,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &c.name,
            ]))
            .unwrap_or_else(|e| panic!("{e}"));
            server.ip(&[
                "addr",
                "add",
                &format!("{}/24", Self::server_addr(i)),
                "dev",
                &format!("c{i}"),
            ]);
            c.ip(&[
                "addr",
                "add",
                &format!("{}/24", Self::client_addr(i)),
                "dev",
                "eth0",
            ]);
            server.ip(&["link", "set", &format!("c{i}"), "up"]);
            c.ip(&["link", "set", "eth0", "up"]);
            clients.push(c);
        }
        Star { clients, server }
    }

    /// The server's address on client `i`'s link.
    pub fn server_addr(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, u8::try_from(i).unwrap(), 1)
    }

    /// Client `i`'s address.
    pub fn client_addr(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, u8::try_from(i).unwrap(), 2)
    }

    /// The namespace of client `i` (1-based).
    pub fn client(&self, i: usize) -> &NetNs {
        &self.clients[i - 1]
    }

    /// Set the server's end of client `i`'s link up or down (the client's end loses its
    /// carrier: nothing passes either way).
    pub fn link(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        self.server.ip(&["link", "set", &format!("c{i}"), state]);
    }

    /// Replace the faults in force by `faults` (client number, fault); `&[]` heals them all.
    pub fn faults(&self, faults: &[(usize, Fault)]) {
        let mut input = String::new();
        let mut output = String::new();
        for &(i, f) in faults {
            let (inp, out) = match f {
                Fault::Drop => ("drop".to_string(), "drop".to_string()),
                Fault::DropToClient => (String::new(), "drop".to_string()),
                Fault::Loss(p) => {
                    let r = format!("numgen random mod 100 < {p} drop");
                    (r.clone(), r)
                }
            };
            if !inp.is_empty() {
                input.push_str(&format!("    iifname \"c{i}\" {inp}\n"));
            }
            output.push_str(&format!("    oifname \"c{i}\" {out}\n"));
        }
        self.server.nft(&format!(
            "table inet nutrs {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n{input}  }}\n  \
             chain output {{\n    type filter hook output priority 0; policy accept;\n{output}  }}\n}}"
        ));
    }
}

/// A TCP relay that delays every chunk of bytes by a fixed time in each direction (the test
/// machines' kernels have no netem): it listens where it was started (the namespace of the
/// calling thread) and connects to `to` for each client. Stopped on drop.
pub struct DelayProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl DelayProxy {
    /// Listen on `listen` and relay to `to`, each way `delay` late.
    pub fn start(listen: SocketAddr, to: SocketAddr, delay: Duration) -> DelayProxy {
        let l = TcpListener::bind(listen).unwrap_or_else(|e| panic!("bind {listen}: {e}"));
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = s else { continue };
                let Ok(server) = TcpStream::connect(to) else {
                    continue;
                };
                for (from, into) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let _ = from.set_nodelay(true);
                    pump(from, into, delay);
                }
            }
        });
        DelayProxy { addr, stop }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // wake the accept loop up
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Copy `from` to `into`, each chunk `delay` after it was read; the end of `from` (or an
/// error) shuts `into`'s write side down once the bytes before it went out.
fn pump(mut from: TcpStream, mut into: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(n) if n > 0 => {
                    if tx
                        .send((Instant::now() + delay, Some(buf[..n].to_vec())))
                        .is_err()
                    {
                        break;
                    }
                }
                _ => {
                    let _ = tx.send((Instant::now() + delay, None));
                    break;
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (due, chunk) in rx {
            if let Some(left) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(left);
            }
            match chunk {
                Some(b) if into.write_all(&b).is_ok() => {}
                _ => {
                    let _ = into.shutdown(Shutdown::Write);
                    break;
                }
            }
        }
    });
}
