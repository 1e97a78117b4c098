//! Our upsd under a `Type=notify` unit: with `NOTIFY_SOCKET` set it says `READY=1` once it
//! listens, `RELOADING=1` with `MONOTONIC_USEC` and `READY=1` again around `upsd -c reload`
//! (what the unit's ExecReload runs), `STOPPING=1` on SIGTERM, and pings the watchdog from
//! its main loop only while that loop runs (a stopped process stops pinging).

use std::time::Duration;

use nut_test_support::daemon::{signal, wait_for};
use nut_test_support::sd_notify::{monotonic_usec, NotifySocket, STOPPING};
use nut_test_support::{our_bin, LineClient, NutDir, Proc};

/// Our upsd `-F -u root` on `dir` with `NOTIFY_SOCKET` and the extra environment `env`.
fn upsd(dir: &NutDir, notify: &NotifySocket, env: &[(&str, &str)]) -> Proc {
    let mut c = dir.command(&our_bin("upsd"), "upsd.log");
    c.args(["-F", "-u", "root"])
        .env("NOTIFY_SOCKET", notify.path());
    for (k, v) in env {
        c.env(k, v);
    }
    Proc {
        child: c.spawn().expect("spawn our upsd"),
        name: "upsd (notify)".into(),
    }
}

#[test]
fn ready_reloading_ready_stopping() {
    let dir = NutDir::new();
    let mut notify = NotifySocket::new();
    let mut p = upsd(&dir, &notify, &[]);
    let log = || dir.log("upsd.log");
    let ready = format!("READY=1\nSTATUS=Serving 2 UPS on 127.0.0.1:{}", dir.port);
    assert_eq!(notify.expect("READY=1", log), ready);
    // READY means it listens: a client gets in at once
    let mut c = LineClient::connect(dir.port).unwrap();
    assert!(c.request("VER").starts_with("Network UPS Tools upsd"));

    let before = monotonic_usec();
    let pid = p.pid().to_string();
    let (code, out, err) = dir.run(
        &our_bin("upsd"),
        &["-c", "reload", "-P", &pid],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let reloading = notify.expect("RELOADING=1", log);
    let after = monotonic_usec();
    NotifySocket::assert_reloading(&reloading, before, after);
    assert_eq!(notify.expect("READY=1 after the reload", log), ready);

    signal(p.pid(), "TERM");
    assert_eq!(notify.expect("STOPPING=1", log), STOPPING);
    wait_for("upsd to exit", Duration::from_secs(10), |_| p.exited());
    assert_eq!(notify.next(Duration::from_millis(300)), None);
    assert_eq!(notify.pings, 0, "no WATCHDOG_USEC, no pings");
}

#[test]
fn watchdog_pings_from_the_main_loop() {
    let dir = NutDir::new();
    let mut notify = NotifySocket::new();
    // 400 ms: a ping every 200 ms
    let p = upsd(&dir, &notify, &[("WATCHDOG_USEC", "400000")]);
    let log = || dir.log("upsd.log");
    assert!(notify.expect("READY=1", log).starts_with("READY=1\n"));
    notify.assert_pings_follow_the_process(
        p.pid(),
        Duration::from_millis(200),
        Duration::from_secs(1),
    );

    // the watchdog of another process: no pings
    let dir = NutDir::new();
    let mut notify = NotifySocket::new();
    let _p = upsd(
        &dir,
        &notify,
        &[("WATCHDOG_USEC", "400000"), ("WATCHDOG_PID", "1")],
    );
    let log = || dir.log("upsd.log");
    assert!(notify.expect("READY=1", log).starts_with("READY=1\n"));
    assert_eq!(notify.pings_during(Duration::from_secs(1)), 0);
}
