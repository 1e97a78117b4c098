//! Our driver's socket under hostile local clients (issue 12): a client that floods `DUMPALL`
//! without reading is dropped with one log line while the driver's memory stays bounded and
//! polling and the other clients go on; hundreds of connections cost no thread. The figures
//! (`--nocapture`) are recorded in docs/security.md.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nut_test_support::usbhid::{sock, start_driver};

use crate::socket::{dev_path, dir_with, read_until};

/// A field of /proc/<pid>/status as a number (`VmRSS` in kB, `Threads`).
fn proc_status(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// How much the driver's resident memory may grow while one client floods it (kB).
const RSS_GROWTH_BOUND_KB: u64 = 2 * 1024;

/// The lines of `log` that report a dropped connection.
fn drop_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("does not read its replies"))
        .collect()
}

#[test]
fn a_client_flooding_dumpall_without_reading_is_dropped_and_memory_stays_bounded() {
    let dir = dir_with("");
    let mut driver = start_driver(&dir, &["-x", "pollinterval=1"]);
    let pid = driver.pid();
    // a well-behaved client (as upsd): dump once, then live updates and PINGs
    let mut good = UnixStream::connect(sock(&dir)).unwrap();
    let mut got = String::new();
    good.write_all(b"DUMPALL\n").unwrap();
    read_until(&mut good, &mut got, "DUMPDONE\n", Duration::from_secs(5));
    let rss0 = proc_status(pid, "VmRSS");

    // 512 KiB of DUMPALL, never reading a reply; the socket stays open on our side
    let hog = UnixStream::connect(sock(&dir)).unwrap();
    let mut hog_w = hog.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        hog_w
            .write_all("DUMPALL\n".repeat(65536).as_bytes())
            .map_err(|e| e.kind())
    });

    let t0 = Instant::now();
    let mut max_rss = rss0;
    let mut pings = Vec::new();
    let mut changed = None;
    let mut seen_change = None;
    let mut dropped_at = None;
    let mut seen = String::new();
    while t0.elapsed() < Duration::from_secs(20) {
        assert!(driver.exited().is_none(), "{}", dir.log("driver.log"));
        let rss = proc_status(pid, "VmRSS");
        max_rss = max_rss.max(rss);
        assert!(
            rss <= rss0 + RSS_GROWTH_BOUND_KB,
            "driver RSS {rss} kB after {:?} of flood (started at {rss0} kB)",
            t0.elapsed()
        );
        // the other client is answered within a second, every time
        let p = Instant::now();
        got.clear();
        good.write_all(b"PING\n").unwrap();
        read_until(&mut good, &mut got, "PONG\n", Duration::from_secs(1));
        pings.push(p.elapsed());
        seen.push_str(&got);
        // and the device is still polled: a change of the device reaches it
        if changed.is_none() && t0.elapsed() > Duration::from_secs(1) {
            let dev = std::fs::read_to_string(dev_path(&dir)).unwrap();
            std::fs::write(
                dev_path(&dir),
                dev.replace("ups.test.result: Done and passed", "ups.test.result: flood"),
            )
            .unwrap();
            changed = Some(Instant::now());
        }
        if let Some(c) = changed.filter(|_| seen_change.is_none()) {
            if seen.contains("SETINFO ups.test.result \"flood\"\n") {
                seen_change = Some(c.elapsed());
            }
        }
        let log = dir.log("driver.log");
        if dropped_at.is_none() && !drop_lines(&log).is_empty() {
            dropped_at = Some(t0.elapsed());
        }
        // after the drop: two more seconds, memory and service still fine
        if dropped_at.is_some_and(|d| t0.elapsed() > d + Duration::from_secs(2))
            && seen_change.is_some()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pings_max = pings.iter().max().copied().unwrap_or_default();
    eprintln!(
        "flood: RSS {rss0} kB before, {max_rss} kB at most; hog dropped after {dropped_at:?}; \
         {} PINGs answered, slowest {pings_max:?}; device change seen after {seen_change:?}",
        pings.len()
    );
    let log = dir.log("driver.log");
    let drops = drop_lines(&log);
    assert_eq!(drops.len(), 1, "one line for the drop:\n{log}");
    assert!(
        drops[0].contains("dropping connection"),
        "names the connection: {}",
        drops[0]
    );
    assert!(seen_change.is_some(), "polling stopped:\n{seen}");
    // the hog's writes fail once it is dropped (EPIPE or reset), on its side too
    let r = flood.join().unwrap();
    assert!(r.is_err(), "the flood was written whole: {r:?}");
    let mut hog = hog;
    hog.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut sink = Vec::new();
    let end = hog.read_to_end(&mut sink);
    assert!(
        !matches!(&end, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the hog's connection is still open: {end:?}"
    );
}

#[test]
fn five_hundred_connections_cost_no_thread_and_are_all_answered() {
    let dir = dir_with("");
    let mut driver = start_driver(&dir, &[]);
    let pid = driver.pid();
    let threads0 = proc_status(pid, "Threads");
    let mut conns: Vec<UnixStream> = (0..500)
        .map(|_| UnixStream::connect(sock(&dir)).unwrap())
        .collect();
    for c in &mut conns {
        c.write_all(b"NOBROADCAST\nPING\n").unwrap();
    }
    for c in &mut conns {
        let mut got = String::new();
        read_until(c, &mut got, "PONG\n", Duration::from_secs(10));
        assert_eq!(got, "PONG\n");
    }
    let threads = proc_status(pid, "Threads");
    eprintln!("500 connections: {threads0} threads before, {threads} with them open");
    assert_eq!(threads, threads0, "one thread serves every connection");
    drop(conns);
    // and the socket still takes new connections
    let mut c = UnixStream::connect(sock(&dir)).unwrap();
    let mut got = String::new();
    c.write_all(b"PING\n").unwrap();
    read_until(&mut c, &mut got, "PONG\n", Duration::from_secs(5));
    assert!(driver.exited().is_none());
}

#[test]
fn out_of_file_descriptors_the_listener_waits_logs_once_and_recovers() {
    let dir = dir_with("");
    let mut driver = start_driver(&dir, &[]);
    let pid = driver.pid().to_string();
    let st = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=16:16"])
        .status()
        .unwrap();
    assert!(st.success(), "prlimit");
    // more clients than the driver has descriptors for: the last ones wait in the backlog
    let mut conns: Vec<UnixStream> = (0..30)
        .map(|_| UnixStream::connect(sock(&dir)).unwrap())
        .collect();
    for c in &mut conns {
        c.write_all(b"PING\n").unwrap();
    }
    std::thread::sleep(Duration::from_millis(2500));
    let log = dir.log("driver.log");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("accept on the driver socket"))
        .collect();
    assert_eq!(lines.len(), 1, "logged once:\n{log}");
    assert!(lines[0].contains("Too many open files"), "{}", lines[0]);
    // descriptors come back: the waiting clients are served, and new ones too
    let waiting = conns.split_off(20);
    drop(conns);
    for mut c in waiting {
        let mut got = String::new();
        read_until(&mut c, &mut got, "PONG\n", Duration::from_secs(5));
    }
    let mut c = UnixStream::connect(sock(&dir)).unwrap();
    let mut got = String::new();
    c.write_all(b"PING\n").unwrap();
    read_until(&mut c, &mut got, "PONG\n", Duration::from_secs(5));
    assert!(driver.exited().is_none(), "{}", dir.log("driver.log"));
}
