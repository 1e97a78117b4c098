//! Stock NUT 2.8.0's upsc dump of the Back-UPS BK650M2-CH (`tests/data/bk650m2-ch.dev`) and
//! how what a replay of the unit's recording publishes is held against it: the values a replay
//! cannot reproduce, the unit's commands, and the comparison. Used by usbhid-ups's own tests
//! (the backend in-process) and the end-to-end replay test (our driver behind upsd).

use std::collections::BTreeMap;

/// `name: value` lines of stock usbhid-ups 2.8.0's upsc dump of this unit.
const UPSC: &str = include_str!("../../data/bk650m2-ch.dev");

/// Stock values that cannot match a replay: host or build specific, or edited by the reporter.
pub const NOT_COMPARED: &[(&str, &str)] = &[
    ("driver.version", "our release"),
    ("driver.version.internal", "our driver version"),
    (
        "driver.version.usb",
        "libusb version of the reporter's host",
    ),
    ("driver.parameter.bus", "reporter's ups.conf"),
    ("driver.parameter.serial", "reporter's ups.conf"),
    ("driver.parameter.product", "reporter's ups.conf"),
    ("driver.parameter.vendor", "reporter's ups.conf"),
    ("driver.parameter.vendorid", "reporter's ups.conf"),
    ("driver.parameter.productid", "reporter's ups.conf"),
    ("driver.parameter.port", "reporter's ups.conf"),
    (
        "ups.load",
        "5 in the upsc dump, 0 when the recording was taken",
    ),
    (
        "ups.serial",
        "anonymised to xxxx in the dump (device.serial keeps it)",
    ),
];

/// The unit's instant commands, sorted (those of the driver core left out).
pub const COMMANDS: &[&str] = &[
    "beeper.disable",
    "beeper.enable",
    "beeper.mute",
    "beeper.off",
    "beeper.on",
    "load.off",
    "load.off.delay",
    "shutdown.reboot",
    "shutdown.stop",
    "test.battery.start.deep",
    "test.battery.start.quick",
    "test.battery.stop",
];

/// The dump's variables.
fn stock() -> BTreeMap<String, String> {
    UPSC.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every difference between the dump and `ours`, apart from [`NOT_COMPARED`] and the
/// variables only ours has that `extra_ok` names.
pub fn differences(ours: &BTreeMap<String, String>, extra_ok: &[&str]) -> Vec<String> {
    let stock = stock();
    let skip = |k: &str| NOT_COMPARED.iter().any(|(n, _)| *n == k);
    let mut diffs = Vec::new();
    for (k, v) in &stock {
        if skip(k) {
            continue;
        }
        match ours.get(k) {
            None => diffs.push(format!("missing {k} (stock: {v:?})")),
            Some(o) if o != v => diffs.push(format!("{k}: ours {o:?}, stock {v:?}")),
            _ => {}
        }
    }
    for (k, v) in ours {
        if !stock.contains_key(k) && !skip(k) && !extra_ok.contains(&k.as_str()) {
            diffs.push(format!("extra {k} = {v:?}"));
        }
    }
    diffs
}
