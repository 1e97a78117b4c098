//! `upsmon -c reload` (SIGHUP) applies a changed upsmon.conf without a restart: an event
//! that was IGNOREd reaches NOTIFYCMD afterwards, and the session to upsd stays up.

use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::Duration;

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
    let logs = || p.logs();
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    set_status(&rig, "OB");
    std::thread::sleep(Duration::from_secs(2));
    assert!(notified(&p, "ONBATT").is_empty(), "{}", logs());
    set_status(&rig, "OL");
    wait_notified(&p, "ONLINE", 1, "ONLINE", Duration::from_secs(5), logs);
    let conf = p.dir.join("upsmon.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("NOTIFYFLAG ONBATT IGNORE\n", "");
    std::fs::write(&conf, text).unwrap();
    upsmon_command(&p.dir, "reload");
    wait_until(
        "the reload",
        Duration::from_secs(5),
        || p.log().contains("Reloading configuration").then_some(()),
        logs,
    );
    set_status(&rig, "OB");
    wait_notified(
        &p,
        "ONBATT",
        1,
        "ONBATT after the reload",
        Duration::from_secs(5),
        logs,
    );
    assert!(pp.exited().is_none(), "{}", logs());
    assert_eq!(numlogins(&rig), "NUMLOGINS ups 1\n");
}

/// MONITOR lines follow a reload as in NUT: a new UPS is logged into and watched, a removed
/// one is logged out of, and the kept settings need no restart.
#[test]
fn reload_follows_monitor_changes() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    // `second` starts as "OB LB" in its data file: make it harmless before anyone watches it
    set_var(&rig, "second", "ups.status", "OL");
    let s = upsmon_conf(
        &rig,
        Mon::Ours,
        "secondary",
        "monuser",
        "secret",
        "NOTIFYFLAG ONBATT SYSLOG+EXEC\n",
    );
    let mut sp = start_upsmon(&rig, &s);
    let logs = || s.logs();
    let logins = |ups: &str| rig.client().request(&format!("GET NUMLOGINS {ups}"));
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    assert_eq!(logins("second"), "NUMLOGINS second 0\n");

    let conf = s.dir.join("upsmon.conf");
    let old = format!("MONITOR {} ", rig.target("ups"));
    let new = format!("MONITOR {} ", rig.target("second"));
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains(&old));
    std::fs::write(&conf, text.replace(&old, &new)).unwrap();
    upsmon_command(&s.dir, "reload");
    wait_until(
        "the login moving to `second`",
        Duration::from_secs(5),
        || {
            (logins("second") == "NUMLOGINS second 1\n" && logins("ups") == "NUMLOGINS ups 0\n")
                .then_some(())
        },
        logs,
    );
    assert!(
        s.log()
            .contains(&format!("No longer monitoring UPS [{}]", rig.target("ups"))),
        "{}",
        logs()
    );
    // the old UPS is no longer watched, the new one is
    set_status(&rig, "OB");
    set_var(&rig, "second", "ups.status", "OB");
    let sys = rig.target("second");
    wait_notified(
        &s,
        "ONBATT",
        1,
        "ONBATT of `second`",
        Duration::from_secs(5),
        logs,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        notified(&s, "ONBATT"),
        [format!("ONBATT|{sys}|UPS {sys} on battery")],
        "{}",
        logs()
    );
    // a changed password on the kept MONITOR line logs in again, with it (and fails)
    let text = std::fs::read_to_string(&conf).unwrap();
    let kept = format!(
        "MONITOR {} 1 monuser secret secondary",
        rig.target("second")
    );
    assert!(text.contains(&kept), "{text}");
    std::fs::write(
        &conf,
        text.replace(&kept, &kept.replace(" secret ", " wrong ")),
    )
    .unwrap();
    upsmon_command(&s.dir, "reload");
    wait_until(
        "the login with the new password to fail",
        Duration::from_secs(5),
        || (logins("second") == "NUMLOGINS second 0\n").then_some(()),
        logs,
    );
    assert!(sp.exited().is_none(), "{}", logs());
}
