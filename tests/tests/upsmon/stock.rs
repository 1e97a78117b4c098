//! Stock upsmon 2.8.0 (a primary and a secondary) against an upsd fed by stock dummy-ups:
//! login, then a power failure (ups.status set to "OB LB" through upsrw) must make the
//! primary set FSD, the secondary shut down first and the primary after it.
//! `<name>::stock` checks the scenario against stock upsd, `<name>::ours` against our upsd.
//!
//! upsmon 2.8.0 always uses /run/nut/upsmon.pid, so each upsmon runs in its own mount
//! namespace with a private tmpfs on /run/nut (`unshare -m`).

use nut_test_support::upsmon::{
    set_status, shutdown_order, start_upsmon, wait_logins, wait_shutdowns, wait_until,
    write_upsmon_conf, Mon, MonDir,
};
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::Duration;

const EVENTS: &[&str] = &[
    "ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN", "REPLBATT", "NOCOMM",
    "NOPARENT",
];

/// Write `<dir>/upsmon-<role>/upsmon.conf` for stock upsmon, with a SHUTDOWNCMD that appends
/// the role to the rig's `shutdown.order`.
fn upsmon_conf(rig: &Rig, role: &str, user: &str, pw: &str) -> MonDir {
    let dir = rig.dir.path().join(format!("upsmon-{role}"));
    std::fs::create_dir_all(&dir).unwrap();
    let script = rig.dir.path().join("shutdown.sh");
    let order = shutdown_order(rig);
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\n", order.display()),
    )
    .unwrap();
    let mut conf = format!(
        "MONITOR {target} 1 {user} {pw} {role}\n\
         MINSUPPLIES 1\n\
         SHUTDOWNCMD \"/bin/sh {script} {role}\"\n\
         POWERDOWNFLAG {flag}\n\
         POLLFREQ 1\n\
         POLLFREQALERT 1\n\
         HOSTSYNC 5\n\
         DEADTIME 6\n\
         FINALDELAY 1\n\
         RBWARNTIME 43200\n\
         NOCOMMWARNTIME 300\n",
        target = rig.target("ups"),
        script = script.display(),
        flag = dir.join("killpower").display(),
    );
    for e in EVENTS {
        conf.push_str(&format!("NOTIFYFLAG {e} SYSLOG\n"));
    }
    write_upsmon_conf(dir, role, Mon::Stock, &conf)
}

fn power_failure_shuts_down_secondary_then_primary(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, which, NutDirOptions::default());
    let p = upsmon_conf(&rig, "primary", "upsmon", "pw");
    let s = upsmon_conf(&rig, "secondary", "monuser", "secret");
    let mut primary = start_upsmon(&rig, &p);
    let mut secondary = start_upsmon(&rig, &s);
    let logs = || format!("{}{}{}", p.logs(), s.logs(), rig.dir.logs());

    wait_logins(&rig, 2, "upsmon to log in", Duration::from_secs(10), logs);
    let mut c = rig.client();
    assert_eq!(
        c.request("LIST CLIENT ups"),
        "BEGIN LIST CLIENT ups\nCLIENT ups 127.0.0.1\nCLIENT ups 127.0.0.1\nEND LIST CLIENT ups\n"
    );
    assert_eq!(
        c.request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OL DISCHRG\"\n"
    );
    // the primary asked for and got PRIMARY right after LOGIN (upsmon 2.8.0 logs a refusal as
    // "Primary managerial privileges unavailable", see primary_without_rights_is_refused)
    std::thread::sleep(Duration::from_millis(500));
    let plog = p.log();
    assert!(plog.contains("Logged into UPS"), "{}", logs());
    assert!(
        !plog.contains("Primary managerial privileges unavailable"),
        "primary was refused:\n{}",
        logs()
    );
    assert!(primary.exited().is_none(), "primary exited:\n{}", logs());
    assert!(
        secondary.exited().is_none(),
        "secondary exited:\n{}",
        logs()
    );

    // power failure with low battery
    set_status(&rig, "OB LB");

    let text = wait_shutdowns(&rig, 2, "both SHUTDOWNCMDs", Duration::from_secs(25), logs);
    assert_eq!(text, "secondary\nprimary\n", "{}", logs());
    assert_eq!(
        c.request("GET VAR ups ups.status"),
        "VAR ups ups.status \"FSD OB LB\"\n",
        "{}",
        logs()
    );
    assert!(
        p.flag().exists(),
        "primary wrote no POWERDOWNFLAG:\n{}",
        logs()
    );
    if std::env::var_os("NUT_RS_SHOW_LOGS").is_some() {
        eprintln!("{}", logs());
    }
    // both upsmon exit after their SHUTDOWNCMD; then nobody is logged in any more
    wait_until(
        "upsmon exits",
        Duration::from_secs(10),
        || (primary.exited().is_some() && secondary.exited().is_some()).then_some(()),
        logs,
    );
    wait_logins(&rig, 0, "NUMLOGINS 0", Duration::from_secs(5), logs);
}

nut_test_support::both_upsd!(power_failure_shuts_down_secondary_then_primary);

/// A `primary` upsmon whose user has only the secondary role is refused PRIMARY (and MASTER)
/// and says so; this also shows the log check of the test above can fail.
fn primary_without_rights_is_refused(which: Impl) {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, which, NutDirOptions::default());
    let p = upsmon_conf(&rig, "primary", "monuser", "secret");
    let _primary = start_upsmon(&rig, &p);
    let log = wait_until(
        "the refusal in the log",
        Duration::from_secs(10),
        || {
            let l = p.log();
            l.contains("Primary managerial privileges unavailable")
                .then_some(l)
        },
        || p.log(),
    );
    assert!(log.contains("Response: [ERR ACCESS-DENIED]"), "{log}");
    // it is still logged in (as a plain login)
    let mut c = rig.client();
    assert_eq!(c.request("GET NUMLOGINS ups"), "NUMLOGINS ups 1\n");
}

nut_test_support::both_upsd!(primary_without_rights_is_refused);
