//! `upsmon -c reload` (SIGHUP) applies a changed upsmon.conf without a restart: an event
//! that was IGNOREd reaches NOTIFYCMD afterwards, and the session to upsd stays up.

mod upsmon_common;

use nut_rs_tests::{our_bin, run_with_timeout, stock_nut, Impl, NutDirOptions, Rig};
use std::process::Command;
use std::time::Duration;
use upsmon_common::*;

#[test]
fn reload_applies_new_notify_flags() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let p = upsmon_conf(
        &rig,
        Mon::Ours,
        "primary",
        "upsmon",
        "pw",
        "NOTIFYFLAG ONBATT IGNORE\n",
    );
    let mut pp = start_upsmon(&rig, &p);
    let logs = || format!("{}\n{}", p.log(), p.notify_log());
    wait_until(
        "login",
        Duration::from_secs(10),
        || (numlogins(&rig) == "NUMLOGINS ups 1\n").then_some(()),
        logs,
    );
    set_status(&rig, "OB");
    std::thread::sleep(Duration::from_secs(2));
    assert!(notified(&p, "ONBATT").is_empty(), "{}", logs());
    set_status(&rig, "OL");
    wait_until(
        "ONLINE",
        Duration::from_secs(5),
        || (!notified(&p, "ONLINE").is_empty()).then_some(()),
        logs,
    );
    let conf = p.dir.join("upsmon.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("NOTIFYFLAG ONBATT IGNORE\n", "");
    std::fs::write(&conf, text).unwrap();
    let (code, _, err) = run_with_timeout(
        Command::new(our_bin("upsmon"))
            .args(["-c", "reload"])
            .env("NUT_CONFPATH", &p.dir)
            .env("NUT_ALTPIDPATH", &p.dir),
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(0), "{err}");
    wait_until(
        "the reload",
        Duration::from_secs(5),
        || p.log().contains("Reloading configuration").then_some(()),
        logs,
    );
    set_status(&rig, "OB");
    wait_until(
        "ONBATT after the reload",
        Duration::from_secs(5),
        || (!notified(&p, "ONBATT").is_empty()).then_some(()),
        logs,
    );
    assert!(pp.exited().is_none(), "{}", logs());
    assert_eq!(numlogins(&rig), "NUMLOGINS ups 1\n");
}
