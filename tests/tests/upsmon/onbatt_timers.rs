//! The `ONBATT_SHUTDOWN_*` limits of our upsmon (a nut-rs addition), end to end: stock
//! dummy-ups behind our upsd, our upsmon polling every second with FINALDELAY 0.
//!
//! * a secondary with `ONBATT_SHUTDOWN_AFTER 3` runs SHUTDOWNCMD 3 s after it saw the UPS go
//!   on battery, alone (upsd never shows FSD), and logs out;
//! * mains back after 1 s: `ONBATT_SHUTDOWN_CANCELLED`, and no shutdown however long we wait;
//! * `ONBATT_SHUTDOWN_CHARGE 50`: no shutdown at 80 %, a shutdown once `battery.charge` is 45;
//! * a primary with `ONBATT_SHUTDOWN_AFTER 2` sets FSD, a stock secondary leaves first;
//! * on the wire (the proxy of [`crate::wire`]): `battery.runtime` and `battery.charge` are read
//!   after `ups.status` only while the UPS is on battery, and `LOGOUT` ends the session.

use nut_test_support::upsmon::*;
use nut_test_support::usbhid::epoch_now;
use nut_test_support::{stock_nut, Impl, NutDirOptions, Rig};
use std::time::{Duration, Instant};

/// Our upsmon in `role` with these extra lines (FINALDELAY 0, the limit notifications to
/// NOTIFYCMD), started (the caller waits for its login: the primary's test waits for two).
fn ours(rig: &Rig, role: &str, extra: &str) -> (MonDir, nut_test_support::Proc) {
    let extra = format!(
        "FINALDELAY 0\n\
         NOTIFYFLAG ONBATT_SHUTDOWN SYSLOG+EXEC\n\
         NOTIFYFLAG ONBATT_SHUTDOWN_CANCELLED SYSLOG+EXEC\n\
         {extra}"
    );
    let s = role_conf(rig, Mon::Ours, role, &extra);
    let sp = start_upsmon(rig, &s);
    (s, sp)
}

/// `md` notified `ONBATT_SHUTDOWN` once, for this reason.
fn assert_reason(rig: &Rig, md: &MonDir, reason: &str, logs: impl Fn() -> String) {
    let sys = rig.target("ups");
    assert_eq!(
        notified(md, "ONBATT_SHUTDOWN"),
        vec![format!(
            "ONBATT_SHUTDOWN|{sys}|UPS {sys}: shutdown policy reached ({reason})"
        )],
        "{}",
        logs()
    );
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

/// The time on the first line of `shutdown.order` (`<role> <time>`).
fn shutdown_time(order: &str) -> f64 {
    let line = order.lines().next().unwrap();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn secondary_shuts_down_alone_after_3_s_on_battery() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (s, mut sp) = ours(&rig, "secondary", "ONBATT_SHUTDOWN_AFTER 3\n");
    let logs = || format!("{}{}", s.logs(), rig.dir.logs());
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    std::thread::sleep(Duration::from_millis(1500));

    let lost = epoch_now();
    set_status(&rig, "OB DISCHRG");
    let order = wait_shutdowns(&rig, 1, "SHUTDOWNCMD", Duration::from_secs(10), logs);
    let sys = rig.target("ups");
    // (each NOTIFYCMD is a process of its own: those of one moment may log in any order)
    assert_eq!(
        sorted(notifications(&s)),
        sorted(vec![
            format!("ONBATT|{sys}|UPS {sys} on battery"),
            format!(
                "ONBATT_SHUTDOWN|{sys}|UPS {sys}: shutdown policy reached (on battery for 3 s, ONBATT_SHUTDOWN_AFTER 3)"
            ),
            "SHUTDOWN||Auto logout and shutdown proceeding".to_string(),
        ]),
        "{}",
        logs()
    );
    // 3 s from the poll that saw OB, which came within a poll (1 s) of the change: never
    // before 3 s after the mains went. The upper bound leaves 1.5 s for process start-up
    // on a loaded machine (the exact timing is the machine tests', on a simulated clock);
    // the ONBATT notification's own process may start late, so it only bounds loosely.
    let seen = notified_at(&s, "ONBATT")[0];
    let ran = shutdown_time(&order);
    assert!(
        (3.0..3.0 + 1.0 + 1.5).contains(&(ran - lost)),
        "SHUTDOWNCMD {:.3} s after the mains went:\n{}",
        ran - lost,
        logs()
    );
    assert!(
        (2.5..4.5).contains(&(ran - seen)),
        "SHUTDOWNCMD {:.3} s after ONBATT:\n{}",
        ran - seen,
        logs()
    );
    assert_eq!(order.lines().count(), 1, "{}", logs());
    assert!(order.starts_with("secondary "), "{order}");
    // alone: upsd never showed FSD; logged out
    assert_eq!(
        rig.client().request("GET VAR ups ups.status"),
        "VAR ups ups.status \"OB DISCHRG\"\n"
    );
    wait_logins(&rig, 0, "logout", Duration::from_secs(5), logs);
    assert!(
        s.log().contains(&format!("Logged out of UPS [{sys}]")),
        "{}",
        logs()
    );
    let t = Instant::now();
    while sp.exited().is_none() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(sp.exited().is_some(), "upsmon still runs: {}", logs());
}

#[test]
fn mains_back_after_1_s_cancels_the_timed_shutdown() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (s, mut sp) = ours(&rig, "secondary", "ONBATT_SHUTDOWN_AFTER 3\n");
    let logs = || format!("{}{}", s.logs(), rig.dir.logs());
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    std::thread::sleep(Duration::from_millis(1500));

    set_status(&rig, "OB DISCHRG");
    wait_notified(&s, "ONBATT", 1, "ONBATT", Duration::from_secs(5), logs);
    std::thread::sleep(Duration::from_secs(1));
    set_status(&rig, "OL");
    wait_notified(
        &s,
        "ONBATT_SHUTDOWN_CANCELLED",
        1,
        "ONBATT_SHUTDOWN_CANCELLED",
        Duration::from_secs(5),
        logs,
    );
    // well past the 3 s
    std::thread::sleep(Duration::from_secs(5));
    let sys = rig.target("ups");
    assert_eq!(
        sorted(notifications(&s)),
        sorted(vec![
            format!("ONBATT|{sys}|UPS {sys} on battery"),
            format!("ONLINE|{sys}|UPS {sys} on line power"),
            format!(
                "ONBATT_SHUTDOWN_CANCELLED|{sys}|UPS {sys} on line power again: timed shutdown cancelled"
            ),
        ]),
        "{}",
        logs()
    );
    assert_no_shutdown(&rig, &s, &mut sp, "OL", logs);
    wait_logins(&rig, 1, "still logged in", Duration::from_secs(1), logs);
}

#[test]
fn charge_below_the_limit_shuts_down() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (s, mut sp) = ours(&rig, "secondary", "ONBATT_SHUTDOWN_CHARGE 50\n");
    let logs = || format!("{}{}", s.logs(), rig.dir.logs());
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    set_var(&rig, "ups", "battery.charge", "80");
    set_status(&rig, "OB DISCHRG");
    wait_notified(&s, "ONBATT", 1, "ONBATT", Duration::from_secs(5), logs);
    std::thread::sleep(Duration::from_secs(3));
    assert_no_shutdown(&rig, &s, &mut sp, "OB DISCHRG", logs);

    set_var(&rig, "ups", "battery.charge", "45");
    wait_shutdowns(&rig, 1, "SHUTDOWNCMD", Duration::from_secs(5), logs);
    assert_reason(
        &rig,
        &s,
        "battery.charge 45% below ONBATT_SHUTDOWN_CHARGE 50",
        logs,
    );
}

#[test]
fn primary_limit_sets_fsd_and_the_stock_secondary_leaves_first() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let sec = role_conf(&rig, Mon::Stock, "secondary", "");
    let _sec = start_upsmon(&rig, &sec);
    let (p, _pp) = ours(&rig, "primary", "ONBATT_SHUTDOWN_AFTER 2\n");
    let logs = || format!("{}{}{}", p.logs(), sec.logs(), rig.dir.logs());
    wait_logins(&rig, 2, "logins", Duration::from_secs(10), logs);
    std::thread::sleep(Duration::from_millis(1500));

    set_status(&rig, "OB DISCHRG");
    wait_fsd(&rig, "FSD", Duration::from_secs(6), logs);
    let order = wait_shutdowns(&rig, 2, "both SHUTDOWNCMDs", Duration::from_secs(15), logs);
    assert_eq!(
        shutdown_roles(&order),
        ["secondary", "primary"],
        "{}",
        logs()
    );
    assert_reason(
        &rig,
        &p,
        "on battery for 2 s, ONBATT_SHUTDOWN_AFTER 2",
        logs,
    );
    let sys = rig.target("ups");
    assert_eq!(
        notified(&sec, "FSD"),
        vec![format!("FSD|{sys}|UPS {sys}: forced shutdown in progress")],
        "{}",
        logs()
    );
}

#[test]
fn battery_values_are_read_only_on_battery_and_logout_ends_the_session() {
    let Some(stock) = stock_nut() else { return };
    let rig = Rig::start(&stock, Impl::Ours, NutDirOptions::default());
    let (port, lines) = crate::wire::proxy(rig.port());
    let s = role_conf(
        &rig,
        Mon::Ours,
        "secondary",
        "FINALDELAY 0\nONBATT_SHUTDOWN_RUNTIME 60\nONBATT_SHUTDOWN_CHARGE 50\n",
    );
    crate::wire::monitor_through(&rig, &s, port);
    let mut sp = start_upsmon(&rig, &s);
    let logs = || format!("{}\n{:?}", s.logs(), lines.lines());
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    std::thread::sleep(Duration::from_millis(2500));
    set_status(&rig, "OB DISCHRG");
    std::thread::sleep(Duration::from_millis(2500));
    set_var(&rig, "ups", "battery.charge", "45");
    wait_until("exit", Duration::from_secs(10), || sp.exited(), logs);
    std::thread::sleep(Duration::from_millis(300));
    let all = lines.lines();
    let status = "GET VAR ups ups.status";
    let (runtime, charge) = ("GET VAR ups battery.runtime", "GET VAR ups battery.charge");
    assert_eq!(
        all[..5],
        [
            "STARTTLS",
            "USERNAME monuser",
            "PASSWORD secret",
            "LOGIN ups",
            status
        ],
        "{all:?}"
    );
    // on line: only ups.status (as stock); on battery: each ups.status followed by the two
    let first = all.iter().position(|l| l == runtime).expect("runtime read");
    assert!(first >= 7, "at least two polls on line first: {all:?}");
    assert!(all[4..first].iter().all(|l| l == status), "{all:?}");
    let on_battery = &all[first - 1..all.len() - 2];
    assert!(on_battery.len() >= 6, "{all:?}");
    for poll in on_battery.chunks(3) {
        assert_eq!(poll, [status, runtime, charge], "{all:?}");
    }
    assert_eq!(all[all.len() - 2..], ["LOGOUT", "<EOF>"], "{all:?}");
}
