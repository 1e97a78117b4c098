//! Our upsmon and the `ALARM` status word, end to end: stock dummy-ups behind our upsd, our
//! upsmon as a secondary. The ALARM notice carries the `ups.alarm` text, a new text is
//! notified again, NOTALARM when the word goes away, `n/a` when the driver has no
//! `ups.alarm`, and an alarm while on line power is never a reason to shut down as long as
//! upsd answers; when the driver is lost in an alarm, `ALARMCRITICAL` (default 1) decides.
//!
//! The BK650M2-CH data file has no `ups.alarm`, and upsd refuses `SET VAR` for a variable the
//! driver does not have, so the test writes its own copy of the file with an `ups.alarm`
//! line before the driver starts (dummy-ups makes it `RW STRING:32`: texts of at most 32
//! bytes).

use nut_test_support::upsmon::*;
use nut_test_support::{stock_nut, Driver, Impl, NutDir, NutDirOptions, Rig, Upsd};
use std::time::Duration;

/// The default rig, with `ups.alarm: <initial>` added to the data file of `ups`.
fn rig_with_alarm_var(stock: &nut_test_support::StockNut, initial: &str) -> Rig {
    let opts = NutDirOptions::default();
    let data = opts.upses[0].data.clone();
    let dir = NutDir::with(opts);
    let mut text = std::fs::read_to_string(dir.conf().join(&data)).unwrap();
    assert!(!text.contains("ups.alarm"), "{data} already has ups.alarm");
    text.push_str(&format!("ups.alarm: {initial}\n"));
    dir.write_conf(&data, &text);
    let driver = Driver::start(stock, &dir);
    let upsd = Upsd::start(&dir, &Impl::Ours.binary(stock), Impl::Ours);
    Rig {
        upsd,
        driver,
        dir,
        stock: stock.clone(),
    }
}

#[test]
fn alarm_text_is_notified_and_cleared_without_shutdown() {
    let Some(stock) = stock_nut() else { return };
    let rig = rig_with_alarm_var(&stock, "Replace battery!");
    let extra = "NOTIFYFLAG ALARM SYSLOG+EXEC\n\
                 NOTIFYFLAG NOTALARM SYSLOG+EXEC\n\
                 NOTIFYFLAG OTHER SYSLOG+EXEC\n\
                 NOTIFYFLAG NOTOTHER SYSLOG+EXEC\n";
    let s = upsmon_conf(&rig, Mon::Ours, "secondary", "monuser", "secret", extra);
    let mut sp = start_upsmon(&rig, &s);
    let logs = || format!("{}{}", s.logs(), rig.dir.logs());
    wait_logins(&rig, 1, "login", Duration::from_secs(10), logs);
    let sys = rig.target("ups");
    let alarm = |text: &str| format!("ALARM|{sys}|UPS {sys}: one or more active alarms: [{text}]");
    let notalarm =
        format!("NOTALARM|{sys}|UPS {sys} is no longer in an alarm state (no active alarms)");
    let wait_for = |event: &str, n: usize| {
        wait_notified(
            &s,
            event,
            n,
            &format!("{n} {event} notification(s)"),
            Duration::from_secs(5),
            logs,
        )
    };
    // The first poll of an OL UPS notifies nothing.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(s.notify_log(), "", "{}", logs());

    // ALARM appears: the notice carries the ups.alarm text
    set_status(&rig, "ALARM OL");
    wait_for("ALARM", 1);
    assert_eq!(
        notified(&s, "ALARM"),
        vec![alarm("Replace battery!")],
        "{}",
        logs()
    );

    // same text on the next polls: no new notice
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(notified(&s, "ALARM").len(), 1, "{}", logs());

    // the text changes while ALARM stays: notified again with the new text
    set_var(&rig, "ups", "ups.alarm", "Fan failure, contact service");
    wait_for("ALARM", 2);
    assert_eq!(
        notified(&s, "ALARM"),
        vec![
            alarm("Replace battery!"),
            alarm("Fan failure, contact service")
        ],
        "{}",
        logs()
    );
    assert!(notified(&s, "NOTALARM").is_empty(), "{}", logs());

    // ALARM goes away: NOTALARM, once
    set_status(&rig, "OL");
    wait_for("NOTALARM", 1);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        notified(&s, "NOTALARM"),
        vec![notalarm.clone()],
        "{}",
        logs()
    );
    assert_eq!(notified(&s, "ALARM").len(), 2, "{}", logs());

    // a driver without ups.alarm (an empty value removes the variable): "n/a", as NUT
    set_var(&rig, "ups", "ups.alarm", "");
    let mut c = rig.client();
    wait_until(
        "ups.alarm to go away",
        Duration::from_secs(5),
        || (c.request("GET VAR ups ups.alarm") == "ERR VAR-NOT-SUPPORTED\n").then_some(()),
        logs,
    );
    set_status(&rig, "ALARM OL");
    wait_for("ALARM", 3);
    set_status(&rig, "OL");
    wait_for("NOTALARM", 2);
    assert_eq!(
        notified(&s, "ALARM"),
        vec![
            alarm("Replace battery!"),
            alarm("Fan failure, contact service"),
            alarm("n/a"),
        ],
        "{}",
        logs()
    );
    assert_eq!(
        notified(&s, "NOTALARM"),
        vec![notalarm.clone(), notalarm],
        "{}",
        logs()
    );

    // everything the user was told, in order: nothing but the alarms (no OTHER for the
    // ALARM word, no ONLINE/ONBATT, no COMMBAD), and never a shutdown
    std::thread::sleep(Duration::from_secs(1));
    let all = notifications(&s);
    let want: Vec<String> = vec![
        alarm("Replace battery!"),
        alarm("Fan failure, contact service"),
        format!("NOTALARM|{sys}|UPS {sys} is no longer in an alarm state (no active alarms)"),
        alarm("n/a"),
        format!("NOTALARM|{sys}|UPS {sys} is no longer in an alarm state (no active alarms)"),
    ];
    assert_eq!(all, want, "{}", logs());
    assert_no_shutdown(&rig, &s, &mut sp, "OL", logs);
}

#[test]
fn alarm_then_lost_driver_shuts_down_unless_alarmcritical_is_0() {
    let Some(stock) = stock_nut() else { return };
    let mut rig = rig_with_alarm_var(&stock, "Replace battery!");
    // three secondaries of one UPS: ours by default (ALARMCRITICAL 1, as NUT 2.8.3+), ours
    // with ALARMCRITICAL 0, and stock 2.8.0, which has no such rule
    let hosts = [
        ("crit", Mon::Ours, ""),
        ("nocrit", Mon::Ours, "ALARMCRITICAL 0\n"),
        ("stock", Mon::Stock, ""),
    ];
    let mons: Vec<MonDir> = hosts
        .iter()
        .map(|(name, mon, extra)| {
            let extra = format!("NOTIFYFLAG ALARM SYSLOG+EXEC\n{extra}");
            upsmon_conf_named(&rig, *mon, name, "secondary", "monuser", "secret", &extra)
        })
        .collect();
    let mut procs: Vec<_> = mons.iter().map(|m| start_upsmon(&rig, m)).collect();
    let logs = || {
        let mut l: String = mons.iter().map(MonDir::logs).collect();
        l.push_str(&rig.dir.logs());
        l
    };
    wait_logins(&rig, 3, "three logins", Duration::from_secs(10), logs);
    set_status(&rig, "ALARM OL");
    for m in &mons {
        if m.mon == Mon::Ours {
            wait_notified(m, "ALARM", 1, "ALARM", Duration::from_secs(5), logs);
        }
    }
    // the driver dies while the UPS shows ALARM on line power
    rig.driver.signal("ups", "KILL");
    let order = wait_shutdowns(&rig, 1, "a shutdown", Duration::from_secs(15), logs);
    assert!(order.starts_with("crit "), "{order}\n{}", logs());
    assert!(
        mons[0].log().contains(
            "was last known to be in an ALARM state and currently is not communicating, \
             assuming dead. If this is in error and causes unwanted shutdowns, consider \
             disabling the upsmon ALARMCRITICAL option."
        ),
        "{}",
        logs()
    );
    // the others only lose contact, for as long again as the first took and more
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        std::fs::read_to_string(shutdown_order(&rig))
            .unwrap()
            .lines()
            .count(),
        1,
        "{}",
        logs()
    );
    for (m, p) in mons.iter().zip(&mut procs).skip(1) {
        assert!(p.exited().is_none(), "{} exited: {}", m.role, logs());
        assert!(notified(m, "SHUTDOWN").is_empty(), "{}", logs());
        assert_eq!(notified(m, "COMMBAD").len(), 1, "{}", logs());
    }
}
