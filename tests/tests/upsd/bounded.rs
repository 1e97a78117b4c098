//! Bounded memory whatever a peer does (issue 12): a driver that stops reading while an admin
//! sends SETs, clients that pipeline LIST VAR and never read, MAXCONN under a low open-file
//! limit, and the permission warnings. Memory is upsd's VmRSS from /proc; every drop is
//! checked in the log, line for line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nut_test_support::{
    our_bin, stock_nut, Driver, Impl, LineClient, NutDir, NutDirOptions, Reply, Rig, Upsd,
};

const STATUS_REPLY: &str = "VAR ups ups.status \"OL DISCHRG\"\n";

/// upsd's resident memory in KiB (VmRSS of /proc/<pid>/status).
fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// The log lines of `log` that contain `text`, from `text` on (no time stamp or level).
fn lines_with<'a>(log: &'a str, text: &str) -> Vec<&'a str> {
    log.lines()
        .filter_map(|l| l.find(text).map(|i| &l[i..]))
        .collect()
}

/// `GET VAR ups ups.status` on a fresh connection, answered within `limit`.
fn answered_promptly(port: u16, limit: Duration) -> Duration {
    let mut c = LineClient::connect(port).unwrap();
    c.quiet = limit;
    let t0 = Instant::now();
    assert_eq!(c.request("GET VAR ups ups.status"), STATUS_REPLY);
    let took = t0.elapsed();
    assert!(took < limit, "a legit client waited {took:?}");
    took
}

nut_test_support::both_upsd!(sets_to_a_driver_that_stopped_reading_fail_instead_of_piling_up);

/// An admin floods SETs at a driver that stopped reading (SIGSTOP): upsd queues none beyond a
/// bound; past it the answer is `ERR SET-FAILED`, as stock's failed write to the driver gives,
/// and memory stays flat. Once the driver reads again, SET works again.
fn sets_to_a_driver_that_stopped_reading_fail_instead_of_piling_up(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let mut rig = Rig::start(&stock, which, NutDirOptions::default());
    let pid = rig.upsd.proc_.pid();
    let before = vm_rss_kib(pid);
    rig.driver.signal("ups", "STOP");

    const N: usize = 100_000;
    let mut admin = rig.client();
    admin.auth("admin", "adminpw");
    let t0 = Instant::now();
    let counts = set_flood(rig.port(), N);
    let spam_took = t0.elapsed();
    let during = vm_rss_kib(pid);
    eprintln!("{which:?}: {N} SETs in {spam_took:?}: {counts:?}; VmRSS {before} -> {during} KiB");
    assert!(
        counts.get("ERR SET-FAILED").is_some_and(|&n| n > 0),
        "no SET failed while the driver did not read: {counts:?}"
    );
    // Stock drops the driver link on the failed write, so its later SETs meet an empty tree
    // until the driver dumps again; ours keeps the link and its data.
    let expected: &[&str] = match which {
        Impl::Stock => &[
            "OK",
            "ERR SET-FAILED",
            "ERR DRIVER-NOT-CONNECTED",
            "ERR VAR-NOT-SUPPORTED",
        ],
        Impl::Ours => &["OK", "ERR SET-FAILED"],
    };
    for reply in counts.keys() {
        assert!(
            expected.contains(&reply.as_str()),
            "unexpected reply {reply:?}: {counts:?}"
        );
    }
    assert!(
        during < before + 20 * 1024,
        "VmRSS grew from {before} to {during} KiB"
    );

    // The driver reads again: SETs go through again.
    rig.driver.signal("ups", "CONT");
    let t0 = Instant::now();
    loop {
        let r = admin.request("SET VAR ups battery.charge.low 45");
        if r == "OK\n" {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "SET still answered {r:?} 10 s after the driver reads again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    if which == Impl::Ours {
        let log = rig.upsd.log(&rig.dir);
        assert_eq!(
            lines_with(&log, "Send to UPS"),
            ["Send to UPS [ups] failed: its driver has not read the last 32 messages; SET and INSTCMD fail while it does not read (logged once per driver connection)"],
            "{}",
            log.lines().filter(|l| !l.contains("Set variable")).collect::<Vec<_>>().join("\n")
        );
    }
}

/// `n` SETs as admin on one connection, sent in bulk while the replies are read; how many of
/// each reply came.
fn set_flood(port: u16, n: usize) -> std::collections::BTreeMap<String, usize> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut reader = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut s = stream;
        s.write_all(b"USERNAME admin\nPASSWORD adminpw\n").unwrap();
        let all = "SET VAR ups battery.charge.low 40\n".repeat(n);
        for chunk in all.as_bytes().chunks(64 * 1024) {
            s.write_all(chunk).unwrap();
        }
        s
    });
    reader
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut lines = 0;
    while lines < n + 2 {
        let k = reader.read(&mut buf).expect("replies to the SETs");
        assert!(k > 0, "upsd closed the admin's connection");
        lines += buf[..k].iter().filter(|&&b| b == b'\n').count();
        got.extend_from_slice(&buf[..k]);
    }
    let _s = writer.join().unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for l in String::from_utf8(got).unwrap().lines().skip(2) {
        *counts.entry(l.to_string()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn a_driver_that_reads_nothing_for_15_seconds_loses_its_link_and_gets_it_back() {
    let Some(stock) = stock_nut() else { return };
    let mut rig = Rig::ours(&stock);
    rig.driver.signal("ups", "STOP");
    let counts = set_flood(rig.port(), 2000);
    assert!(counts.contains_key("ERR SET-FAILED"), "{counts:?}");
    let t0 = Instant::now();
    let stalled = "Send to UPS [ups] failed: the driver read nothing for 15 s";
    while !rig.upsd.log(&rig.dir).contains(stalled) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{}",
            rig.upsd.log(&rig.dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let after = t0.elapsed();
    assert!(after > Duration::from_secs(13), "dropped after {after:?}");
    rig.driver.signal("ups", "CONT");
    // The link is made again and the driver's data comes back.
    let t0 = Instant::now();
    let mut c = rig.client();
    while c.request("GET VAR ups ups.status") != STATUS_REPLY {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no data 10 s after CONT"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = rig.upsd.log(&rig.dir);
    // The messages (after time stamp and level) about the link.
    let link: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once(' ')?.1.trim_start().split_once(' '))
        .map(|(_, message)| message)
        .filter(|l| l.contains("UPS [ups]") && !l.starts_with("Set variable"))
        .filter(|l| !l.contains("stale"))
        .collect();
    assert_eq!(
        link[link.len() - 4..],
        [
            "Send to UPS [ups] failed: its driver has not read the last 32 messages; SET and INSTCMD fail while it does not read (logged once per driver connection)",
            stalled,
            "Lost connection to the driver of UPS [ups]",
            link[link.len() - 1],
        ],
        "{log}"
    );
    assert!(
        link[link.len() - 1].starts_with("Connected to UPS [ups]: "),
        "{log}"
    );
}

/// Our upsd and stock dummy-ups for the default UPSes, `ups` with `extra` more variables
/// (`test.var.N`, 40-character values), so that `LIST VAR ups` is about `extra` × 67 bytes
/// long. (In drop order: upsd, the drivers, the directory.)
fn big_ups(stock: &nut_test_support::StockNut, extra: usize) -> (Upsd, Driver, NutDir) {
    let dir = NutDir::new();
    let file = dir.conf().join("bk650m2-ch.dev");
    let mut dev = std::fs::read_to_string(&file).unwrap();
    for i in 0..extra {
        dev.push_str(&format!("test.var.{i:05}: {}\n", "v".repeat(40)));
    }
    std::fs::write(&file, dev).unwrap();
    let driver = Driver::start(stock, &dir);
    let upsd = Upsd::start(&dir, &our_bin("upsd"), Impl::Ours);
    (upsd, driver, dir)
}

/// `n` clients that each send `LIST VAR ups` `times` times (36 to a packet) and never read.
fn non_readers(port: u16, n: usize, times: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            for _ in 0..times / 36 {
                s.write_all("LIST VAR ups\n".repeat(36).as_bytes()).unwrap();
            }
            s
        })
        .collect()
}

#[test]
fn clients_that_never_read_their_lists_hold_bounded_memory() {
    let Some(stock) = stock_nut() else { return };
    let (upsd, _driver, dir) = big_ups(&stock, 1000);
    let pid = upsd.proc_.pid();
    let mut c = LineClient::connect(dir.port).unwrap();
    let one = c.request("LIST VAR ups").len();
    let before = vm_rss_kib(pid);

    const CLIENTS: usize = 100;
    let _held = non_readers(dir.port, CLIENTS, 36);
    // Meanwhile a legit client is answered promptly.
    let t0 = Instant::now();
    let mut worst = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(3) {
        // Each flooder renders one list per turn, so the first legit request waits for about
        // 100 renders (debug build: ~0.13 s alone, more on a loaded machine), not for all
        // 3,600 (2.4 s alone when a connection answered its whole read in one turn).
        worst = worst.max(answered_promptly(dir.port, Duration::from_millis(1500)));
    }
    let during = vm_rss_kib(pid);
    eprintln!(
        "{CLIENTS} clients x 36 LIST VAR of {one} bytes, never read: VmRSS {before} -> {during} KiB; slowest legit reply {worst:?}"
    );
    // Each holds at most one reply beyond the bound (plus what the kernel took).
    let bound = (CLIENTS * (one + 16 * 1024)) as u64 / 1024 + 16 * 1024;
    assert!(
        during < before + bound,
        "VmRSS grew from {before} to {during} KiB (bound {bound} KiB)"
    );
}

#[test]
fn a_client_that_reads_none_of_its_replies_is_dropped_after_30_seconds() {
    let Some(stock) = stock_nut() else { return };
    let (upsd, _driver, dir) = big_ups(&stock, 2000);
    let t0 = Instant::now();
    // Replies far beyond what the kernel buffers take.
    let mut held = non_readers(dir.port, 3, 360);
    // A client that reads slowly but steadily stays.
    let mut slow = non_readers(dir.port, 1, 360).remove(0);
    let mut buf = vec![0u8; 64 * 1024];
    let mut slow_got = 0;
    while t0.elapsed() < Duration::from_secs(36) {
        std::thread::sleep(Duration::from_millis(200));
        slow_got += slow.read(&mut buf).unwrap();
    }
    let log = upsd.log(&dir);
    assert_eq!(
        lines_with(&log, "Dropping client"),
        ["Dropping client 127.0.0.1: it read none of its replies for 30 s"; 3],
        "{log}"
    );
    // The non-readers were closed: what they read ends (EOF or reset) after what upsd had
    // handed to the kernel.
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    eprintln!("the slow reader got {slow_got} bytes in 36 s and is still served");
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(slow.read(&mut buf).unwrap() > 0);
    answered_promptly(dir.port, Duration::from_millis(500));
}

/// Our upsd under `ulimit -n <limit>` (soft and hard), through a wrapper script in `dir`.
fn upsd_with_fd_limit(dir: &NutDir, limit: u32) -> Upsd {
    let wrapper = dir.path().join("upsd-ulimit");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nulimit -n {limit} || exit 1\nexec {} \"$@\"\n",
            our_bin("upsd").display()
        ),
    )
    .unwrap();
    nut_test_support::set_mode(&wrapper, 0o755);
    Upsd::start(dir, &wrapper, Impl::Ours)
}

#[test]
fn maxconn_holds_before_the_open_file_limit_and_says_so_once() {
    let Some(stock) = stock_nut() else { return };
    let dir = NutDir::new();
    let _driver = Driver::start(&stock, &dir);
    // 64 descriptors, MAXCONN by default the same 64: upsd's own descriptors (listener,
    // driver sockets, runtime, log) leave room for fewer clients.
    let upsd = upsd_with_fd_limit(&dir, 64);
    let mut clients: Vec<LineClient> = (0..70)
        .map(|_| {
            let mut c = LineClient::connect(dir.port).unwrap();
            c.send(b"VER\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let answered: Vec<bool> = clients
        .iter_mut()
        .map(|c| {
            c.quiet = Duration::from_millis(50);
            match c.read_reply() {
                Reply::Complete(b) => {
                    assert!(b.starts_with(b"Network UPS Tools upsd "), "{b:?}");
                    true
                }
                Reply::NoReply => false,
                other => panic!("{}", other.render()),
            }
        })
        .collect();
    let served = answered.iter().filter(|&&a| a).count();
    let log = upsd.log(&dir);
    assert_eq!(served, 27, "{answered:?}\n{log}");
    assert!(answered[..27].iter().all(|&a| a), "{answered:?}");
    assert_eq!(
        lines_with(&log, "MAXCONN"),
        ["MAXCONN 64 (the default) needs 101 open files, but the limit is 64 (hard limit 64): serving at most 27 clients at once (raise the limit, e.g. LimitNOFILE= in the unit, or lower MAXCONN)"],
        "{log}"
    );
    assert_eq!(
        lines_with(&log, "accept failed"),
        Vec::<&str>::new(),
        "{log}"
    );
    // One leaves: the next in the listen queue is served.
    clients.remove(0);
    clients[26].quiet = Duration::from_secs(3);
    match clients[26].read_reply() {
        Reply::Complete(b) => assert!(b.starts_with(b"Network UPS Tools upsd "), "{b:?}"),
        other => panic!("the 28th client after one left: {}", other.render()),
    }
}

nut_test_support::both_upsd!(files_with_secrets_that_others_may_read_are_warned_about);

/// upsd.users readable by others: stock warns "<file> is world readable"; ours names the
/// mode, owner and what is expected, and also warns about a CERTFILE (its private key) that
/// others may read.
fn files_with_secrets_that_others_may_read_are_warned_about(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let dir = NutDir::new();
    let pki = nut_test_support::daemon::TestPki::new("nut-rs test CA");
    let (_, certfile) = pki.write(dir.path());
    let mut conf = std::fs::read_to_string(dir.conf().join("upsd.conf")).unwrap();
    conf.push_str(&format!("CERTFILE {}\n", certfile.display()));
    dir.write_conf("upsd.conf", &conf);
    set_modes(&dir, &certfile);
    let _driver = Driver::start(&stock, &dir);
    let upsd = Upsd::start(&dir, &which.binary(&stock), which);
    let log = upsd.log(&dir);
    let users = dir.conf().join("upsd.users");
    let owner = owner_of(&users);
    let want: Vec<String> = match which {
        // (Debian's 2.8.0 is built with NSS, whose CERTFILE is a certificate database: it
        // says nothing of this PEM file. Stock also checks STATEPATH, o+x included.)
        Impl::Stock => vec![
            format!("{} is world readable", dir.state().display()),
            format!("{} is world readable", users.display()),
        ],
        Impl::Ours => vec![
            format!(
                "{} is mode 0644 ({owner}), readable by others: expected 0640 root:nut",
                users.display()
            ),
            format!(
                "{} is mode 0604 ({owner}), readable by others: expected 0640 root:nut",
                certfile.display()
            ),
        ],
    };
    let got: Vec<&str> = lines_with(&log, dir.path().to_str().unwrap())
        .into_iter()
        .filter(|l| l.contains("readable"))
        .collect();
    assert_eq!(got, want, "{log}");
}

/// upsd.users 0644, the CERTFILE 0604, the other files 0640.
fn set_modes(dir: &NutDir, certfile: &std::path::Path) {
    for f in ["upsd.conf", "ups.conf"] {
        nut_test_support::set_mode(&dir.conf().join(f), 0o640);
    }
    nut_test_support::set_mode(&dir.conf().join("upsd.users"), 0o644);
    nut_test_support::set_mode(certfile, 0o604);
}

/// `user:group` of `path`, by name.
fn owner_of(path: &std::path::Path) -> String {
    let out = std::process::Command::new("stat")
        .args(["-c", "%U:%G"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_client_sending_parse_errors_cannot_flood_the_log() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::ours(&stock);
    let mut s = TcpStream::connect(("127.0.0.1", rig.port())).unwrap();
    s.set_nodelay(true).unwrap();
    // Each read with an unbalanced `#` in quotes is a parse error (stock drops that read).
    for _ in 0..100 {
        s.write_all(b"GET DESC ups \"a#b\"\n").unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    answered_promptly(rig.port(), Duration::from_millis(500));
    let log = rig.upsd.log(&rig.dir);
    let lines = lines_with(&log, "Parse error on sock from 127.0.0.1");
    assert_eq!(lines.len(), 1, "{log}");
}
