//! The HID backend on the synthesized APC Smart-UPS X 750 recording (051d:0003,
//! `smart_ups_x750_recording`): every variable it publishes against the unit's NUT upsc dump
//! (2.7.4; the APC table is the same in 2.8.0 but for one flag this unit lacks), the claim of
//! PID 0003 with its interrupt pipe off, the commands and writable variables the unit offers and
//! the SET_REPORT bytes they send, and kill power. The descriptor's 54 objects are checked
//! against the fixture's field table in `apc`.

use nut_driver::{Backend, BackendError, CmdResult};

use crate::common::{start_with, try_start_with, value, vars, Unit};
use crate::smart_ups_x750_recording::RECORDING;
use nut_test_support::stock_dump;

/// What the backend publishes (driver.* aside): the dump's values, except where marked.
const EXPECTED: &[(&str, &str)] = &[
    ("battery.charge", "66"),
    ("battery.charge.low", "10"),
    ("battery.charge.warning", "50"),
    // chosen: the dump's 65535 ("#BAD: overflow?") is not a runtime
    ("battery.runtime", "2400"),
    ("battery.runtime.low", "150"),
    ("battery.type", "PbAc"),
    ("battery.voltage", "52.0"),
    ("battery.voltage.nominal", "48.0"),
    ("device.mfr", "American Power Conversion "),
    ("device.model", "Smart-UPS X 750 "),
    // chosen: the dump hides the serial
    ("device.serial", "AS1148000000"),
    ("device.type", "ups"),
    ("ups.beeper.status", "enabled"),
    ("ups.delay.shutdown", "20"),
    ("ups.firmware", "COM 03.8 / UPS 03.8"),
    ("ups.mfr", "American Power Conversion "),
    ("ups.mfr.date", "2011/11/28"),
    ("ups.model", "Smart-UPS X 750 "),
    ("ups.productid", "0003"),
    // chosen, as device.serial
    ("ups.serial", "AS1148000000"),
    ("ups.status", "OL CHRG"),
    ("ups.timer.reboot", "-1"),
    ("ups.timer.shutdown", "-1"),
    ("ups.vendorid", "051d"),
];

/// The default configuration of a stock ups.conf section.
const CONF: &[&str] = &["port=auto"];

fn start(x: &[&str]) -> Unit {
    start_with(RECORDING, x)
}

#[test]
fn publishes_the_dump_s_variables_and_no_other() {
    let u = start(CONF);
    let ours: Vec<(String, String)> = vars(&u.tree)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("driver."))
        .collect();
    let want: Vec<(String, String)> = EXPECTED
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(ours, want);
    assert_eq!(value(&u.tree, "driver.version.data"), Some("APC HID 0.98"));
}

#[test]
fn pid_0003_is_claimed_with_the_interrupt_pipe_off() {
    let u = start(CONF);
    // NUT's disable_interrupt_pipe hook: polled only.
    assert!(!u.backend.has_events());
    // 2.8.0's APC table stops at 0003: 0004 (a Smart-UPS 1000 in 2.8.1+) only with productid.
    let other = RECORDING.replace("product_id = \"0003\"", "product_id = \"0004\"");
    match try_start_with(&other, CONF) {
        Err(BackendError::Fatal(m)) => assert!(m.contains("051d:0004"), "{m}"),
        Err(e) => panic!("unexpected {e:?}"),
        Ok(_) => panic!("051d:0004 claimed without productid"),
    }
    let u = start_with(&other, &["port=auto", "productid=0004"]);
    assert_eq!(value(&u.tree, "ups.productid"), Some("0004"));
    assert!(u.backend.has_events(), "the hook belongs to 0003 only");
}

#[test]
fn commands_and_writable_variables() {
    let u = start(CONF);
    let rw: Vec<String> = u
        .tree
        .vars()
        .filter(|v| v.flags.rw && !v.name().starts_with("driver."))
        .map(|v| format!("{} {:?} {}", v.name(), v.flags.words(), v.aux))
        .collect();
    assert_eq!(
        rw,
        [
            "battery.charge.low [\"RW\", \"STRING\"] 10",
            "battery.runtime.low [\"RW\", \"STRING\"] 10",
            "ups.delay.shutdown [\"RW\", \"STRING\"] 10",
        ]
    );
    // The BK650M2-CH's commands but test.battery.* (no Battery.Test here); neither has a
    // DelayBeforeStartup, so no load.on, shutdown.return or shutdown.stayoff.
    let cmds: Vec<&str> = u.tree.cmds().collect();
    let want: Vec<&str> = stock_dump::COMMANDS
        .iter()
        .copied()
        .filter(|c| !c.starts_with("test.battery."))
        .collect();
    assert_eq!(cmds, want);
    assert_eq!(cmds.len(), 9);
}

#[test]
fn commands_and_writes_send_nut_s_bytes() {
    use CmdResult::{Handled, Invalid};
    let mut u = start(CONF);
    let t = &mut u.tree;
    for (cmd, param, want) in [
        // AudibleAlarmControl (0x14); beeper.off/on are beeper.disable/enable
        ("beeper.disable", None, Handled),
        ("beeper.enable", None, Handled),
        ("beeper.off", None, Handled),
        ("beeper.on", None, Handled),
        ("beeper.mute", None, Handled),
        // DelayBeforeShutdown (0x12, 16 bits)
        ("load.off.delay", None, Handled),
        ("load.off.delay", Some("45"), Handled),
        ("load.off", None, Handled),
        ("shutdown.stop", None, Handled),
        // DelayBeforeReboot (0x13, 24 bits)
        ("shutdown.reboot", None, Handled),
        ("load.on", None, Invalid),
        ("shutdown.return", None, Invalid),
        ("test.battery.start.quick", None, Invalid),
    ] {
        assert_eq!(u.backend.instcmd(t, cmd, param), want, "{cmd} {param:?}");
    }
    for (var, val) in [
        ("battery.charge.low", "20"),
        ("battery.runtime.low", "300"),
        // driver-side: stored, nothing sent
        ("ups.delay.shutdown", "60"),
    ] {
        assert_eq!(u.backend.setvar(t, var, val), Handled, "{var}");
    }
    assert_eq!(
        u.sets.borrow().clone(),
        [
            "14 01",
            "14 02",
            "14 01",
            "14 02",
            "14 03",
            "12 14 00",
            "12 2d 00",
            "12 00 00",
            "12 ff ff",
            "13 0a 00 00",
            "11 14",
            "08 2c 01 00",
        ]
    );
    // A write forces a full walk, re-reading the semi-static values from the device.
    u.backend
        .update(t, std::time::Instant::now())
        .expect("update");
    assert_eq!(value(t, "battery.charge.low"), Some("20"));
    assert_eq!(value(t, "battery.runtime.low"), Some("300"));
    assert_eq!(value(t, "ups.delay.shutdown"), Some("60"));
}

#[test]
fn killpower_is_shutdown_reboot() {
    // 2.8.0: shutdown.return fails (no DelayBeforeStartup), then shutdown.reboot writes
    // PowerSummary.DelayBeforeReboot = 10.
    let mut u = start(&["port=auto", "offdelay=60"]);
    u.backend.shutdown(&mut u.tree).expect("shutdown");
    assert_eq!(u.sets.borrow().clone(), ["13 0a 00 00"]);
}
