//! Our upsmon under `nut-monitor.service` (Type=notify, NotifyAccess=all: the root parent is
//! the main process, the monitoring child speaks): `READY=1` after the first poll round,
//! `RELOADING=1` with `MONOTONIC_USEC` and `READY=1` around `upsmon -c reload` (the unit's
//! ExecReload), `STOPPING=1` when the parent is sent SIGTERM, and watchdog pings meanwhile.

use std::time::Duration;

use nut_test_support::daemon::signal;
use nut_test_support::sd_notify::{monotonic_usec, NotifySocket, STOPPING};
use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};

#[test]
fn ready_after_the_first_poll_reloading_ready_stopping() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let md = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    let mut notify = NotifySocket::new();
    let env = [
        ("NOTIFY_SOCKET", notify.path().as_os_str()),
        // a ping every second
        ("WATCHDOG_USEC", std::ffi::OsStr::new("2000000")),
    ];
    // split mode, as the unit runs it: a root parent and the monitoring child
    let mut group = Group(start_upsmon_with(&rig, &md, &["-F", "-u", "root"], &env));
    let logs = || md.logs();
    assert_eq!(
        notify.expect("READY=1", logs),
        "READY=1\nSTATUS=Monitoring 1 UPS"
    );
    // the first poll round is over: upsmon is logged in to upsd
    assert_eq!(numlogins(&rig), "NUMLOGINS ups 1\n", "{}", logs());
    let n = notify.pings_during(Duration::from_millis(2500));
    assert!(
        (2..=4).contains(&n),
        "{n} pings in 2.5 s, one a second expected"
    );

    let before = monotonic_usec();
    upsmon_command(&md.dir, "reload");
    let reloading = notify.expect("RELOADING=1", logs);
    NotifySocket::assert_reloading(&reloading, before, monotonic_usec());
    assert_eq!(
        notify.expect("READY=1 after the reload", logs),
        "READY=1\nSTATUS=Monitoring 1 UPS"
    );

    signal(group.0.pid(), "TERM");
    assert_eq!(notify.expect("STOPPING=1", logs), STOPPING);
    nut_test_support::daemon::wait_for("upsmon to exit", Duration::from_secs(10), |_| {
        group.0.exited()
    });
    assert_eq!(notify.next(Duration::from_millis(300)), None);
}

#[test]
fn ready_even_when_upsd_cannot_be_reached() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let md = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    // point the MONITOR line at a port nobody listens on
    let conf = md.dir.join("upsmon.conf");
    let closed = nut_test_support::free_port();
    let old = std::fs::read_to_string(&conf).unwrap();
    let text = old.replace(&format!(":{} ", rig.port()), &format!(":{closed} "));
    assert_ne!(text, old, "the MONITOR line names the port");
    std::fs::write(&conf, text).unwrap();
    let mut notify = NotifySocket::new();
    let env = [("NOTIFY_SOCKET", notify.path().as_os_str())];
    let _group = Group(start_upsmon_with(&rig, &md, &["-F", "-u", "root"], &env));
    let logs = || md.logs();
    // the first poll round ended in a failed connection: monitoring has begun all the same
    assert_eq!(
        notify.expect("READY=1", logs),
        "READY=1\nSTATUS=Monitoring 1 UPS"
    );
}
