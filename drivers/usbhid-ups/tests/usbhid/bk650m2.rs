//! The HID backend on the replayed APC Back-UPS BK650M2-CH recording (tests/data): the whole
//! variable set against the stock NUT 2.8.0 upsc dump of the same unit, flags, commands, the
//! OL+DISCHRG options, the exact SET_REPORT bytes of commands and writes, kill power, and
//! interrupt reports reaching `ups.status` without a poll.

use std::time::{Duration, Instant};

use nut_driver::{Backend, BackendError, CmdResult};
use nut_hid_recording::hex_string as hex;

use crate::common::{start_with, value, vars, Unit};
use nut_test_support::stock_dump;

const RECORDING: &str = include_str!("../data/back-ups-bk650m2-ch.recording.toml");
/// Ours only: the 2.8.1+ core flag every driver of ours publishes.
const EXTRA_OK: &[&str] = &["driver.flag.allow_killpower"];

/// [`start_with`] on the BK650M2-CH.
fn start(x: &[&str]) -> Unit {
    start_with(RECORDING, x)
}

const STOCK_CONF: &[&str] = &["port=auto", "pollfreq=40", "pollinterval=10"];

#[test]
fn publishes_what_stock_nut_2_8_0_publishes() {
    let u = start(STOCK_CONF);
    let diffs = stock_dump::differences(&vars(&u.tree), EXTRA_OK);
    assert!(diffs.is_empty(), "differences:\n{}", diffs.join("\n"));
    // The documented exceptions, with the values a replay gives.
    assert_eq!(value(&u.tree, "ups.load"), Some("0"));
    assert_eq!(value(&u.tree, "ups.serial"), Some("9B2019A14274"));
    assert_eq!(value(&u.tree, "ups.status"), Some("OL DISCHRG"));
    assert_eq!(value(&u.tree, "battery.type"), Some("PbAc"));
    assert_eq!(value(&u.tree, "ups.delay.shutdown"), Some("20"));
    assert_eq!(value(&u.tree, "ups.delay.start"), None);
    assert_eq!(value(&u.tree, "input.transfer.reason"), None);
}

#[test]
fn flags_and_commands_are_stock() {
    let u = start(STOCK_CONF);
    let mut rw: Vec<String> = u
        .tree
        .vars()
        .filter(|v| v.flags.rw && !v.name().starts_with("driver."))
        .map(|v| format!("{} {:?} {}", v.name(), v.flags.words(), v.aux))
        .collect();
    rw.sort();
    assert_eq!(
        rw,
        [
            "battery.charge.low [\"RW\", \"STRING\"] 10",
            "battery.mfr.date [\"RW\", \"STRING\"] 10",
            "battery.runtime.low [\"RW\", \"STRING\"] 10",
            "input.sensitivity [\"RW\", \"STRING\"] 10",
            "input.transfer.high [\"RW\", \"STRING\"] 10",
            "input.transfer.low [\"RW\", \"STRING\"] 10",
            "ups.delay.shutdown [\"RW\", \"STRING\"] 10",
        ]
    );
    let cmds: Vec<&str> = u.tree.cmds().collect();
    assert_eq!(cmds, stock_dump::COMMANDS);
}

#[test]
fn onlinedischarge_options() {
    for (opt, want) in [
        ("onlinedischarge", "OB DISCHRG"),
        ("onlinedischarge_onbattery", "OB DISCHRG"),
        ("onlinedischarge_calibration", "OL DISCHRG CAL"),
    ] {
        let u = start(&["port=auto", opt]);
        assert_eq!(value(&u.tree, "ups.status"), Some(want), "{opt}");
    }
}

#[test]
fn options_change_delays_lowbatt_and_pollfreq() {
    let u = start(&["port=auto", "offdelay=60", "ondelay=90", "lowbatt=35"]);
    assert_eq!(value(&u.tree, "ups.delay.shutdown"), Some("60"));
    // No DelayBeforeStartup on this unit: ondelay has nothing to change.
    assert_eq!(value(&u.tree, "ups.delay.start"), None);
    assert_eq!(value(&u.tree, "battery.charge.low"), Some("35"));
    assert_eq!(value(&u.tree, "driver.parameter.pollfreq"), Some("30"));
    assert_eq!(value(&u.tree, "driver.version.data"), Some("APC HID 0.98"));
}

/// The 0x21 buffer is NUT's declared length (24 bytes); the device answered 2 of them.
fn report_21(v: u8) -> String {
    let mut b = vec![0u8; 24];
    b[0] = 0x21;
    b[1] = v;
    hex(&b)
}

#[test]
fn commands_send_nut_s_bytes() {
    use CmdResult::{Handled, Invalid};
    let mut u = start(STOCK_CONF);
    let t = &mut u.tree;
    for (cmd, param, want) in [
        ("beeper.disable", None, Handled),
        ("beeper.enable", None, Handled),
        // beeper.off is beeper.disable (1), not the table's 3; beeper.on is beeper.enable.
        ("beeper.off", None, Handled),
        ("beeper.mute", None, Handled),
        ("test.battery.start.quick", None, Handled),
        ("test.battery.start.deep", None, Handled),
        ("shutdown.stop", None, Handled),
        ("load.off", None, Handled),
        ("load.off.delay", None, Handled),
        ("load.off.delay", Some("45"), Handled),
        // no DelayBeforeStartup
        ("load.on", None, Invalid),
        ("test.panel.start", None, Invalid),
    ] {
        assert_eq!(u.backend.instcmd(t, cmd, param), want, "{cmd} {param:?}");
    }
    assert_eq!(
        u.sets.borrow().clone(),
        [
            "18 01".to_string(),
            "18 02".into(),
            "18 01".into(),
            "18 03".into(),
            report_21(1),
            report_21(2),
            "15 ff ff".into(),
            "15 00 00".into(),
            "15 14 00".into(),
            "15 2d 00".into(),
        ]
    );
}

#[test]
fn writes_send_nut_s_bytes() {
    use CmdResult::{Handled, Invalid, Unknown};
    let mut u = start(STOCK_CONF);
    let t = &mut u.tree;
    // A driver-side variable: stored, nothing sent.
    assert_eq!(u.backend.setvar(t, "ups.delay.shutdown", "45"), Handled);
    assert_eq!(value(t, "ups.delay.shutdown"), Some("45"));
    assert!(u.sets.borrow().is_empty());
    for (var, val, want) in [
        ("battery.charge.low", "40", Handled),
        ("input.sensitivity", "high", Handled),
        ("battery.mfr.date", "2024/02/29", Handled),
        // not writable
        ("battery.charge", "10", Unknown),
        ("ups.id", "x", Unknown),
        // a name the table does not know is refused, nothing is sent
        ("input.sensitivity", "extreme", Invalid),
    ] {
        assert_eq!(u.backend.setvar(t, var, val), want, "{var} {val}");
    }
    let mut date = vec![0u8; 33];
    date[0] = 0x20;
    let d: u16 = ((2024 - 1980) << 9) + (2 << 5) + 29;
    date[1..3].copy_from_slice(&d.to_le_bytes());
    let mut sens = vec![0u8; 24];
    sens[0] = 0x35;
    sens[1] = 2;
    assert_eq!(
        u.sets.borrow().clone(),
        ["11 28".to_string(), hex(&sens), hex(&date)]
    );
    // A write forces a full walk, re-reading the semi-static values from the device.
    u.backend.update(t, Instant::now()).expect("update");
    assert_eq!(value(t, "battery.charge.low"), Some("40"));
    assert_eq!(value(t, "input.sensitivity"), Some("high"));
    assert_eq!(value(t, "battery.mfr.date"), Some("2024/02/29"));
}

#[test]
fn killpower_is_shutdown_reboot_on_this_unit() {
    // 2.8.0 tries shutdown.return (no DelayBeforeStartup here, so it fails), then
    // shutdown.reboot: APCDelayBeforeReboot (report 0x40, 24-byte buffer) = 10.
    let mut u = start(&["port=auto", "offdelay=60"]);
    u.backend.shutdown(&mut u.tree).expect("shutdown");
    let mut b = vec![0u8; 24];
    b[0] = 0x40;
    b[1] = 10;
    assert_eq!(u.sets.borrow().clone(), [hex(&b)]);
}

#[test]
fn interrupt_reports_update_the_status_at_once() {
    let mut u = start(STOCK_CONF);
    // Mains lost: Discharging, BatteryPresent, no ACPresent.
    u.backend
        .apply_interrupt(&mut u.tree, &[0x16, 0x0a, 0x00], Instant::now())
        .expect("event");
    assert_eq!(value(&u.tree, "ups.status"), Some("OB DISCHRG"));
    // Charging on mains, plus low battery.
    u.backend
        .apply_interrupt(&mut u.tree, &[0x16, 0x0d, 0x00], Instant::now())
        .expect("event");
    assert_eq!(value(&u.tree, "ups.status"), Some("OL CHRG"));
    u.backend
        .apply_interrupt(&mut u.tree, &[0x0c, 0x20], Instant::now())
        .expect("event");
    assert_eq!(value(&u.tree, "battery.charge"), Some("32"));
    // An id the descriptor does not have is ignored.
    u.backend
        .apply_interrupt(&mut u.tree, &[0x99, 1], Instant::now())
        .expect("ignored");
    // The recording's own interrupt reads arrive through wait_event.
    let mut got = false;
    for _ in 0..20 {
        if u.backend
            .wait_event(&mut u.tree, Duration::from_millis(100))
            .expect("wait")
        {
            got = true;
            break;
        }
    }
    assert!(got, "no interrupt report from the recording");
    assert_eq!(value(&u.tree, "ups.status"), Some("OL DISCHRG"));
}

#[test]
fn unplugged_device_disconnects_and_comes_back() {
    let mut u = start(STOCK_CONF);
    *u.gone.borrow_mut() = true;
    // A full walk asks the device again.
    let later = Instant::now() + Duration::from_secs(41);
    match u.backend.update(&mut u.tree, later) {
        Err(BackendError::Disconnected(_)) => {}
        other => panic!("expected Disconnected, got {other:?}"),
    }
    *u.gone.borrow_mut() = false;
    u.backend.reconnect(&mut u.tree).expect("reconnect");
    u.backend
        .update(&mut u.tree, later + Duration::from_secs(41))
        .expect("update");
    assert_eq!(value(&u.tree, "ups.status"), Some("OL DISCHRG"));
    assert_eq!(value(&u.tree, "battery.charge"), Some("100"));
}

#[test]
fn the_first_row_that_reads_wins_and_failed_reads_are_skipped() {
    // Battery.RunTimeToEmpty (0x23) comes before PowerSummary.RunTimeToEmpty (0x0f).
    let text = RECORDING.replace("\"0x0f\" = \"0f 22 0e\"", "\"0x0f\" = \"0f 10 0e\"");
    let u = start_with(&text, STOCK_CONF);
    assert_eq!(value(&u.tree, "battery.runtime"), Some("3618"));
    // Without an answer for 0x23 the later row is used; without 0x26 there is no voltage.
    let text = text
        .replace("\"0x23\" = \"23 22 0e\"\n", "")
        .replace("\"0x26\" = \"26 46 05\"\n", "");
    let u = start_with(&text, STOCK_CONF);
    assert_eq!(value(&u.tree, "battery.runtime"), Some("3600"));
    assert_eq!(value(&u.tree, "battery.voltage"), None);
    assert_eq!(value(&u.tree, "ups.status"), Some("OL DISCHRG"));
}

#[test]
fn quick_polls_reuse_young_reports_and_read_status_rows_only() {
    let mut u = start(STOCK_CONF);
    let t0 = Instant::now();
    u.gets.borrow_mut().clear();
    u.backend.update(&mut u.tree, t0).expect("update");
    assert!(
        u.gets.borrow().is_empty(),
        "reports younger than pollinterval are reused"
    );
    u.backend
        .update(&mut u.tree, t0 + Duration::from_secs(11))
        .expect("update");
    // ups.timer.shutdown, ups.timer.reboot, PresentStatus, PowerSummary.ACPresent and
    // PowerSummary.BelowRemainingCapacityLimit: the QUICK_POLL rows that resolved.
    assert_eq!(u.gets.borrow().clone(), [0x15, 0x40, 0x16, 0x13, 0x14]);
    u.gets.borrow_mut().clear();
    u.backend
        .update(&mut u.tree, t0 + Duration::from_secs(60))
        .expect("full update");
    let full = u.gets.borrow().clone();
    assert!(full.contains(&0x0c) && full.contains(&0x26), "{full:?}");
    assert!(
        !full.contains(&0x11),
        "semi-static rows wait for a write: {full:?}"
    );
}
