//! What the test modules share: a driver configuration, a variable's value, and the APC
//! descriptors of nut-hid's fixtures (`drivers/nut-hid/tests/data`).

use nut_driver::config::{split_xarg, DriverConfig, Setting};
use nut_state::Tree;

/// The Smart-UPS X 750 report descriptor, as hex.
pub(crate) const SMART_UPS_X: &str =
    include_str!("../../../nut-hid/tests/data/smart-ups-x-750.descriptor.hex");
/// The Back-UPS BK650M2-CH report descriptor, as hex.
pub(crate) const BK650M2: &str =
    include_str!("../../../nut-hid/tests/data/back-ups-bk650m2-ch.descriptor.hex");

/// A fixture file of nut-hid's tests.
pub(crate) fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../nut-hid/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Hex bytes separated by white space (anything else is skipped).
pub(crate) fn bytes(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

/// The configuration of UPS `ups` with the `-x` settings `x` (no ups.conf).
pub(crate) fn config(x: &[&str]) -> DriverConfig {
    let xs: Vec<Setting> = x.iter().map(|a| split_xarg(a)).collect();
    DriverConfig::build("usbhid-ups", "ups", None, &xs, usbhid_ups::OPTIONS).expect("config")
}

/// The value of variable `name`, if the tree has it.
pub(crate) fn value<'t>(t: &'t Tree, name: &str) -> Option<&'t str> {
    t.get(name).map(|v| v.raw())
}
