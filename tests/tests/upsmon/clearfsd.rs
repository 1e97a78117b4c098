//! `CLEARFSD_ON_MAINS` (a nut-rs addition), end to end: stock dummy-ups behind our upsd (or
//! stock upsd), our primary with `ONBATT_SHUTDOWN_AFTER 2` (it sets FSD 2 s into an outage)
//! and a stock upsmon secondary. The rule: the primary withdraws FSD when mains returns during
//! its HOSTSYNC wait, and upsd lets it only while no other host can have acted on it.
//!
//! * mains back before the secondary polled again: FSD withdrawn (`FSD_CLEARED`), upsd's
//!   status without FSD, nobody shuts down, the secondary stays logged in;
//! * mains back after the secondary read FSD: `ERR FSD-SEEN`, FSD stays, the secondary and
//!   then the primary shut down;
//! * stock upsd (no CLEARFSD): the primary says so, FSD stays, the shutdown goes on.

use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::Duration;

/// Our primary: FSD 2 s into an outage, HOSTSYNC 6, withdrawal on, FSD_CLEARED to NOTIFYCMD.
fn primary(rig: &Rig) -> (MonDir, nut_test_support::Proc) {
    let p = role_conf(
        rig,
        Mon::Ours,
        "primary",
        "FINALDELAY 0\nHOSTSYNC 6\nONBATT_SHUTDOWN_AFTER 2\nCLEARFSD_ON_MAINS 1\n\
         NOTIFYFLAG FSD_CLEARED SYSLOG+EXEC\n",
    );
    let pp = start_upsmon(rig, &p);
    (p, pp)
}

/// A stock secondary polling every `poll` seconds, with FINALDELAY `finaldelay`, started.
fn stock_secondary(rig: &Rig, poll: u32, finaldelay: u32) -> (MonDir, nut_test_support::Proc) {
    let extra = format!("POLLFREQ {poll}\nPOLLFREQALERT {poll}\nFINALDELAY {finaldelay}\n");
    let s = role_conf(rig, Mon::Stock, "secondary", &extra);
    let sp = start_upsmon(rig, &s);
    (s, sp)
}

/// Both logged in; the outage begins; upsd shows FSD (read by the test's anonymous client,
/// which is not a host).
fn outage_until_fsd(rig: &Rig, logs: impl Fn() -> String + Copy) {
    wait_logins(rig, 2, "logins", Duration::from_secs(10), logs);
    std::thread::sleep(Duration::from_millis(1200));
    set_status(rig, "OB DISCHRG");
    wait_fsd(rig, "FSD", Duration::from_secs(6), logs);
}

#[test]
fn mains_back_before_any_host_read_fsd_withdraws_it() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    // polls right after its login, then not for 30 s
    let (s, mut sp) = stock_secondary(&rig, 30, 0);
    let (p, mut pp) = primary(&rig);
    let logs = || format!("{}{}{}", p.logs(), s.logs(), rig.dir.logs());
    outage_until_fsd(&rig, logs);
    set_status(&rig, "OL");
    let sys = rig.target("ups");
    wait_notified(
        &p,
        "FSD_CLEARED",
        1,
        "FSD_CLEARED",
        Duration::from_secs(5),
        logs,
    );
    assert_eq!(
        notified(&p, "FSD_CLEARED"),
        vec![format!(
            "FSD_CLEARED|{sys}|UPS {sys} on line power again: forced shutdown withdrawn"
        )],
        "{}",
        logs()
    );
    assert!(
        p.log().contains(&format!(
            "UPS [{sys}]: mains returned before any other host acted on the FSD: FSD withdrawn, shutdown called off"
        )),
        "{}",
        logs()
    );
    assert!(
        rig.dir.logs().contains("withdrew FSD on UPS [ups]"),
        "{}",
        logs()
    );
    // past HOSTSYNC: nobody shut down, upsd no longer says FSD, both still logged in
    std::thread::sleep(Duration::from_secs(7));
    assert_no_shutdown(&rig, &p, &mut pp, "OL", logs);
    assert!(sp.exited().is_none(), "{}", logs());
    assert!(notified(&s, "FSD").is_empty(), "{}", logs());
    assert_eq!(numlogins(&rig), "NUMLOGINS ups 2\n", "{}", logs());
}

#[test]
fn an_fsd_a_host_has_read_stays_and_everyone_shuts_down() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    // polls every second; 3 s between reading FSD and its SHUTDOWNCMD
    let (s, _sp) = stock_secondary(&rig, 1, 3);
    let (p, _pp) = primary(&rig);
    let logs = || format!("{}{}{}", p.logs(), s.logs(), rig.dir.logs());
    outage_until_fsd(&rig, logs);
    wait_notified(
        &s,
        "FSD",
        1,
        "the secondary's FSD",
        Duration::from_secs(5),
        logs,
    );
    set_status(&rig, "OL");
    let order = wait_shutdowns(&rig, 2, "both SHUTDOWNCMDs", Duration::from_secs(15), logs);
    assert_eq!(
        shutdown_roles(&order),
        ["secondary", "primary"],
        "{}",
        logs()
    );
    let sys = rig.target("ups");
    assert!(
        p.log().contains(&format!(
            "UPS [{sys}]: FSD stays (server replied ERR FSD-SEEN), the shutdown goes on"
        )),
        "{}",
        logs()
    );
    assert!(notified(&p, "FSD_CLEARED").is_empty(), "{}", logs());
    assert!(
        rig.dir
            .logs()
            .contains("may not withdraw FSD on UPS [ups]: monuser@127.0.0.1 read the FSD status"),
        "{}",
        logs()
    );
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"FSD OL\"\n"
    );
}

#[test]
fn stock_upsd_cannot_withdraw_and_the_shutdown_goes_on() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Stock, NutDirOptions::default());
    let (s, _sp) = stock_secondary(&rig, 30, 0);
    let (p, _pp) = primary(&rig);
    let logs = || format!("{}{}{}", p.logs(), s.logs(), rig.dir.logs());
    outage_until_fsd(&rig, logs);
    set_status(&rig, "OL");
    // HOSTSYNC (6 s) ends the wait: the secondary has not polled since
    let order = wait_shutdowns(
        &rig,
        1,
        "the primary's SHUTDOWNCMD",
        Duration::from_secs(12),
        logs,
    );
    assert!(order.starts_with("primary "), "{}", logs());
    let sys = rig.target("ups");
    let unsupported = format!(
        "UPS [{sys}]: upsd cannot withdraw FSD (no CLEARFSD: not nut-rs's upsd), the shutdown goes on"
    );
    assert_eq!(p.log().matches(&unsupported).count(), 1, "{}", logs());
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"FSD OL\"\n"
    );
}
