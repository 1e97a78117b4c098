//! Our upsmon in a power failure, with stock upsmon 2.8.0 as the other host and stock
//! dummy-ups behind upsd (ours or stock): ONBATT and LOWBATT reach NOTIFYCMD with the right
//! argument and environment, the primary sets FSD, the secondary runs its SHUTDOWNCMD before
//! the primary, the primary writes POWERDOWNFLAG and `upsmon -K` then says so. Also: no
//! shutdown for a short OB blip, an upsd restart or a stale driver while OL, and a UPS last
//! seen OB whose upsd goes away is taken as critical after DEADTIME.
//!
//! Stock upsmon 2.8.0 always uses /run/nut/upsmon.pid, so it runs in its own mount namespace
//! with a private tmpfs on /run/nut (`unshare -m`); ours uses `$NUT_ALTPIDPATH/upsmon.pid`.

use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::{Duration, Instant};

fn power_failure(upsd: Impl, primary: Mon, secondary: Mon) {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, upsd, NutDirOptions::default());
    let p = upsmon_conf(&rig, primary, "primary", "upsmon", "pw", "");
    let s = upsmon_conf(&rig, secondary, "secondary", "monuser", "secret", "");
    let mut pp = start_upsmon(&rig, &p);
    let mut sp = start_upsmon(&rig, &s);
    let logs = || format!("{}{}{}", p.logs(), s.logs(), rig.dir.logs());
    wait_logins(
        &rig,
        2,
        "both upsmon to log in",
        Duration::from_secs(10),
        logs,
    );
    let sys = rig.target("ups");

    set_status(&rig, "OB");
    for md in [&p, &s] {
        wait_notified(md, "ONBATT", 1, "ONBATT", Duration::from_secs(5), logs);
        assert_eq!(
            notified(md, "ONBATT"),
            vec![format!("ONBATT|{sys}|UPS {sys} on battery")],
            "{}",
            logs()
        );
    }
    assert!(pp.exited().is_none() && sp.exited().is_none(), "{}", logs());

    set_status(&rig, "OB LB");
    let text = wait_shutdowns(&rig, 2, "both SHUTDOWNCMDs", Duration::from_secs(25), logs);
    let roles = shutdown_roles(&text);
    assert_eq!(roles, ["secondary", "primary"], "{}", logs());
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"FSD OB LB\"\n",
        "{}",
        logs()
    );
    assert_eq!(
        notified(&p, "LOWBATT"),
        vec![format!("LOWBATT|{sys}|UPS {sys} battery is low")],
        "{}",
        logs()
    );
    assert!(
        notified(&s, "FSD").contains(&format!("FSD|{sys}|UPS {sys}: forced shutdown in progress")),
        "{}",
        logs()
    );
    for md in [&p, &s] {
        assert_eq!(
            notified(md, "SHUTDOWN"),
            vec!["SHUTDOWN||Auto logout and shutdown proceeding".to_string()],
            "{:?} {}: {}",
            md.mon,
            md.role,
            logs()
        );
        assert_eq!(
            std::fs::read_to_string(md.flag()).unwrap_or_default(),
            "upsmon-shutdown-file",
            "{:?} {} POWERDOWNFLAG: {}",
            md.mon,
            md.role,
            logs()
        );
        assert_eq!(killpower_check(md), Some(0), "{}", logs());
    }
    wait_until(
        "both upsmon to exit",
        Duration::from_secs(10),
        || (pp.exited().is_some() && sp.exited().is_some()).then_some(()),
        logs,
    );
    if std::env::var_os("NUT_RS_SHOW_LOGS").is_some() {
        eprintln!("{}", logs());
    }
}

#[test]
fn ours_primary_stock_secondary_our_upsd() {
    power_failure(Impl::Ours, Mon::Ours, Mon::Stock);
}

#[test]
fn stock_primary_our_secondary_our_upsd() {
    power_failure(Impl::Ours, Mon::Stock, Mon::Ours);
}

#[test]
fn ours_primary_and_secondary_stock_upsd() {
    power_failure(Impl::Stock, Mon::Ours, Mon::Ours);
}

/// No POWERDOWNFLAG before a shutdown: `-K` exits 1.
#[test]
fn killpower_check_without_flag() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    assert_eq!(killpower_check(&p), Some(1));
    std::fs::write(p.flag(), "not the magic").unwrap();
    assert_eq!(killpower_check(&p), Some(1));
}

/// A short OB blip and an upsd restart while OL: notifications, but no shutdown.
#[test]
fn no_spurious_shutdown() {
    let Some(stock) = stock_nut() else { return };
    let mut rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    let mut pp = start_upsmon(&rig, &p);
    let logs = || p.logs();
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    set_status(&rig, "OB");
    wait_notified(&p, "ONBATT", 1, "ONBATT", Duration::from_secs(5), logs);
    set_status(&rig, "OL");
    wait_notified(&p, "ONLINE", 1, "ONLINE", Duration::from_secs(5), logs);
    // upsd restarts while OL
    let _ = rig.upsd.proc_.child.kill();
    let _ = rig.upsd.proc_.child.wait();
    wait_notified(&p, "COMMBAD", 1, "COMMBAD", Duration::from_secs(5), logs);
    std::thread::sleep(Duration::from_secs(4)); // longer than DEADTIME
    rig.upsd = nut_test_support::Upsd::start(&rig.dir, &Impl::Ours.binary(&stock), Impl::Ours);
    wait_notified(&p, "COMMOK", 1, "COMMOK", Duration::from_secs(10), logs);
    std::thread::sleep(Duration::from_secs(2));
    assert_no_shutdown(&rig, &p, &mut pp, "OL", logs);
}

/// Last seen OB, then upsd goes away: after DEADTIME the UPS counts as OB+LB and the
/// primary shuts down (its FSD and NUMLOGINS fail, which counts as nobody left).
#[test]
fn critical_by_silence() {
    let Some(stock) = stock_nut() else { return };
    let mut rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    let _pp = start_upsmon(&rig, &p);
    let logs = || p.logs();
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    set_status(&rig, "OB");
    wait_notified(&p, "ONBATT", 1, "ONBATT", Duration::from_secs(5), logs);
    let _ = rig.upsd.proc_.child.kill();
    let _ = rig.upsd.proc_.child.wait();
    let t0 = Instant::now();
    wait_shutdowns(&rig, 1, "SHUTDOWNCMD", Duration::from_secs(20), logs);
    // DEADTIME 3 s + FINALDELAY 1 s, at the earliest
    assert!(t0.elapsed() >= Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(
        std::fs::read_to_string(p.flag()).unwrap_or_default(),
        "upsmon-shutdown-file"
    );
}

/// The driver goes silent while OL (data stale on upsd): COMMBAD, then COMMOK when it comes
/// back; never a shutdown.
#[test]
fn stale_driver_while_online_is_no_shutdown() {
    let Some(stock) = stock_nut() else { return };
    let mut opts = NutDirOptions::default();
    opts.upsd_conf_extra.push("MAXAGE 3".into());
    let mut rig = Rig::start(&stock, Impl::Ours, opts);
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    let mut pp = start_upsmon(&rig, &p);
    let logs = || p.logs();
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    rig.driver.signal("ups", "STOP");
    wait_notified(&p, "COMMBAD", 1, "COMMBAD", Duration::from_secs(15), logs);
    assert!(
        p.log().contains("Data stale") || p.log().contains("DATA-STALE"),
        "{}",
        logs()
    );
    std::thread::sleep(Duration::from_secs(4)); // longer than DEADTIME
    rig.driver.signal("ups", "CONT");
    wait_notified(&p, "COMMOK", 1, "COMMOK", Duration::from_secs(15), logs);
    assert!(pp.exited().is_none(), "upsmon exited: {}", logs());
    assert!(notified(&p, "SHUTDOWN").is_empty(), "{}", logs());
    assert!(!p.flag().exists(), "{}", logs());
}

/// The sample configurations in conf/upsmon/ parse (their webhook lines too, uncommented).
#[test]
fn sample_configurations_parse() {
    for role in ["primary", "secondary"] {
        let d = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(
            nut_test_support::tests_dir()
                .join("..")
                .join("conf/upsmon")
                .join(format!("upsmon-{role}.conf")),
        )
        .unwrap()
        .replace("# NOTIFYURL", "NOTIFYURL");
        std::fs::write(d.path().join("upsmon.conf"), text).unwrap();
        let (code, out, err) = nut_test_support::run_with_timeout(
            &mut our_upsmon(d.path(), &["-K"]),
            Duration::from_secs(10),
        );
        // -K: no flag file exists, so 1, but never a configuration error
        assert_eq!(code, Some(1), "{role}: {out}{err}");
        assert!(!err.contains("upsmon.conf:"), "{role}: {err}");
    }
}

/// A secondary that never leaves (a bare LOGIN that stays): the primary gives up after
/// HOSTSYNC and shuts down anyway.
#[test]
fn primary_stops_waiting_after_hostsync() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(&rig, Mon::Ours, "primary", "upsmon", "pw", "");
    let _pp = start_upsmon(&rig, &p);
    let logs = || p.logs();
    let mut stuck = rig.client();
    stuck.auth("monuser", "secret");
    assert_eq!(stuck.request("LOGIN ups"), "OK\n");
    wait_logins(&rig, 2, "login", Duration::from_secs(10), logs);
    set_status(&rig, "OB LB");
    wait_fsd(&rig, "FSD on upsd", Duration::from_secs(5), logs);
    let fsd = Instant::now();
    wait_shutdowns(&rig, 1, "SHUTDOWNCMD", Duration::from_secs(15), logs);
    let waited = fsd.elapsed();
    // HOSTSYNC 5 s + FINALDELAY 1 s
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(8),
        "{waited:?}\n{}",
        logs()
    );
    assert!(p.log().contains("Host sync timer expired"), "{}", logs());
    drop(stuck);
}
