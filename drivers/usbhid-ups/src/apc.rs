//! APC's subdriver, all of NUT's APC knowledge in one place ("APC HID 0.98", NUT 2.8.0's
//! `apc-hid.c`, spec apc-hid.md §5): the vendor usage names, every row of the mapping table in
//! table order (order decides which row wins a variable), the value tables, the device claim
//! with its quirks, the report descriptor fix, and the model/firmware string split.

use nut_hid::{Descriptor, UsageTable};

use crate::convert::{Conversion, Lookup};
use crate::device::Identity;
use crate::subdriver::{
    Claim, Row, Strings, Subdriver, Target, ABSENT, CMD, QUICK_POLL, SEMI_STATIC,
};

/// APC's USB vendor id.
pub const VENDOR_ID: u16 = 0x051d;

/// `driver.version.data` of NUT 2.8.0's APC subdriver.
pub const VERSION: &str = "APC HID 0.98";

/// APC usage names and codes, in lookup priority order.
pub const USAGES: &[(&str, u32)] = &[
    ("APCGeneralCollection", 0xFF86_0005),
    ("APCEnvironment", 0xFF86_0006),
    ("APCProbe1", 0xFF86_0007),
    ("APCProbe2", 0xFF86_0008),
    ("APCBattReplaceDate", 0xFF86_0016),
    ("APCBattCapBeforeStartup", 0xFF86_0019),
    ("APC_UPS_FirmwareRevision", 0xFF86_0042),
    ("APCLineFailCause", 0xFF86_0052),
    ("APCStatusFlag", 0xFF86_0060),
    ("APCSensitivity", 0xFF86_0061),
    ("APCPanelTest", 0xFF86_0072),
    ("APCShutdownAfterDelay", 0xFF86_0076),
    ("APC_USB_FirmwareRevision", 0xFF86_0079),
    ("APCDelayBeforeReboot", 0xFF86_007C),
    ("APCDelayBeforeShutdown", 0xFF86_007D),
    ("APCDelayBeforeStartup", 0xFF86_007E),
    ("BUPHibernate", 0x0085_0058),
    ("BUPBattCapBeforeStartup", 0x0086_0012),
    ("BUPDelayBeforeStartup", 0x0086_0076),
    ("BUPSelfTest", 0x0086_0010),
];

/// The APC subdriver's usage table: [`USAGES`] in front of the generic one.
pub fn usage_table() -> UsageTable {
    UsageTable::generic().with_vendor(USAGES)
}

/// NUT's default for `ondelay` (`DEFAULT_ONDELAY`).
pub(crate) const DEFAULT_ONDELAY: &str = "30";
/// NUT's default for `offdelay` (`DEFAULT_OFFDELAY`).
pub(crate) const DEFAULT_OFFDELAY: &str = "20";

// Generic value tables (NUT's usbhid-ups.c).
const ONLINE: Lookup = &[(1, "online"), (0, "offline")];
const DISCHARGING: Lookup = &[(1, "dischrg"), (0, "!dischrg")];
const CHARGING: Lookup = &[(1, "chrg"), (0, "!chrg")];
const LOWBATT: Lookup = &[(1, "lowbatt"), (0, "!lowbatt")];
const OVERLOAD: Lookup = &[(1, "overload"), (0, "!overload")];
const REPLACEBATT: Lookup = &[(1, "replacebatt"), (0, "!replacebatt")];
const SHUTDOWNIMM: Lookup = &[(1, "shutdownimm"), (0, "!shutdownimm")];
const TIMELIMITEXP: Lookup = &[(1, "timelimitexp"), (0, "!timelimitexp")];
/// Inverted: "battery present" 1 means no `nobattery`.
const NOBATTERY: Lookup = &[(1, "!nobattery"), (0, "nobattery")];
/// Test results of `Battery.Test`.
pub(crate) const TEST_READ: Lookup = &[
    (1, "Done and passed"),
    (2, "Done and warning"),
    (3, "Done and error"),
    (4, "Aborted"),
    (5, "In progress"),
    (6, "No test initiated"),
    (7, "Test scheduled"),
];
/// `AudibleAlarmControl`.
pub(crate) const BEEPER: Lookup = &[(1, "disabled"), (2, "enabled"), (3, "muted")];

// APC's own tables.
const APC_STATUS_FLAG: Lookup = &[(8, "!off"), (16, "!off"), (0, "off")];
const LINE_FAIL_VRANGE: Lookup = &[
    (1, "vrange"),
    (2, "vrange"),
    (4, "vrange"),
    (8, "vrange"),
    (9, "vrange"),
    (0, "!vrange"),
];
const LINE_FAIL_FRANGE: Lookup = &[(7, "frange"), (0, "!frange")];
/// `APCSensitivity`.
pub(crate) const SENSITIVITY: Lookup = &[(0, "low"), (1, "medium"), (2, "high")];

const fn var(name: &'static str, path: &'static str, fmt: &'static str) -> Row {
    Row {
        target: Target::Var(name),
        rw: false,
        string_len: None,
        path,
        dfl: fmt,
        flags: 0,
        conv: Conversion::Format,
    }
}

const fn conv(name: &'static str, path: &'static str, c: Conversion) -> Row {
    Row {
        dfl: "%s",
        conv: c,
        ..var(name, path, "%s")
    }
}

/// `ST_FLAG_RW | ST_FLAG_STRING`, length 10, semi-static.
const fn rw(r: Row) -> Row {
    Row {
        rw: true,
        string_len: Some(10),
        flags: r.flags | SEMI_STATIC,
        ..r
    }
}

/// A driver-side delay setting (`ups.delay.*`).
const fn absent(name: &'static str, path: &'static str, dfl: &'static str) -> Row {
    Row {
        rw: true,
        string_len: Some(10),
        flags: ABSENT,
        ..var(name, path, dfl)
    }
}

/// A countdown the device runs (`ups.timer.*`), read at each quick poll.
const fn timer(name: &'static str, path: &'static str) -> Row {
    Row {
        flags: QUICK_POLL,
        ..var(name, path, "%.0f")
    }
}

const fn status(path: &'static str, table: Lookup, flags: u32) -> Row {
    Row {
        target: Target::Status,
        rw: false,
        string_len: None,
        path,
        dfl: "%s",
        flags,
        conv: Conversion::Lookup(table),
    }
}

const fn cmd(name: &'static str, path: &'static str, value: &'static str) -> Row {
    Row {
        target: Target::Cmd(name),
        rw: false,
        string_len: None,
        path,
        dfl: value,
        flags: CMD,
        conv: Conversion::Format,
    }
}

/// The three delay usages of one collection. NUT maps each of its collections the same way:
/// [`Delays::vars`] among the UPS variables, [`Delays::cmds`] among the commands.
struct Delays {
    startup: &'static str,
    shutdown: &'static str,
    reboot: &'static str,
}

impl Delays {
    /// The driver-side `ups.delay.*` settings and the device's `ups.timer.*` countdowns.
    const fn vars(&self) -> [Row; 5] {
        [
            absent("ups.delay.start", self.startup, DEFAULT_ONDELAY),
            absent("ups.delay.shutdown", self.shutdown, DEFAULT_OFFDELAY),
            timer("ups.timer.start", self.startup),
            timer("ups.timer.shutdown", self.shutdown),
            timer("ups.timer.reboot", self.reboot),
        ]
    }

    /// The commands that write the delays.
    const fn cmds(&self) -> [Row; 4] {
        [
            cmd("load.off.delay", self.shutdown, DEFAULT_OFFDELAY),
            cmd("load.on.delay", self.startup, DEFAULT_ONDELAY),
            cmd("shutdown.stop", self.shutdown, "-1"),
            cmd("shutdown.reboot", self.reboot, "10"),
        ]
    }
}

const POWER_SUMMARY_DELAYS: Delays = Delays {
    startup: "UPS.PowerSummary.DelayBeforeStartup",
    shutdown: "UPS.PowerSummary.DelayBeforeShutdown",
    reboot: "UPS.PowerSummary.DelayBeforeReboot",
};

/// Smart-UPS RM.
const OUTPUT_DELAYS: Delays = Delays {
    startup: "UPS.Output.DelayBeforeStartup",
    shutdown: "UPS.Output.DelayBeforeShutdown",
    reboot: "UPS.Output.DelayBeforeReboot",
};

/// Back-UPS ES.
const APC_DELAYS: Delays = Delays {
    startup: "UPS.APCGeneralCollection.APCDelayBeforeStartup",
    shutdown: "UPS.APCGeneralCollection.APCDelayBeforeShutdown",
    reboot: "UPS.APCGeneralCollection.APCDelayBeforeReboot",
};

/// The mapping table, in NUT's order: [`TABLE_PARTS`] end to end.
pub(crate) static TABLE: [Row; total(TABLE_PARTS)] = join(TABLE_PARTS);

/// The table in parts, so that the delay rows of each collection come from [`Delays`].
const TABLE_PARTS: &[&[Row]] = &[
    &[
        // Battery
        var(
            "battery.charge",
            "UPS.PowerSummary.RemainingCapacity",
            "%.0f",
        ),
        rw(var(
            "battery.charge.low",
            "UPS.PowerSummary.RemainingCapacityLimit",
            "%.0f",
        )),
        var(
            "battery.charge.warning",
            "UPS.PowerSummary.WarningCapacityLimit",
            "%.0f",
        ),
        var("battery.runtime", "UPS.Battery.RunTimeToEmpty", "%.0f"),
        var("battery.runtime", "UPS.PowerSummary.RunTimeToEmpty", "%.0f"),
        rw(var(
            "battery.runtime.low",
            "UPS.Battery.RemainingTimeLimit",
            "%.0f",
        )),
        rw(var(
            "battery.runtime.low",
            "UPS.PowerSummary.RemainingTimeLimit",
            "%.0f",
        )),
        var("battery.voltage", "UPS.Battery.Voltage", "%.1f"),
        var("battery.voltage", "UPS.PowerSummary.Voltage", "%.1f"),
        var(
            "battery.voltage.nominal",
            "UPS.Battery.ConfigVoltage",
            "%.1f",
        ),
        var(
            "battery.voltage.nominal",
            "UPS.PowerSummary.ConfigVoltage",
            "%.1f",
        ),
        conv(
            "battery.temperature",
            "UPS.Battery.Temperature",
            Conversion::KelvinCelsius,
        ),
        conv(
            "battery.type",
            "UPS.PowerSummary.iDeviceChemistry",
            Conversion::StringId,
        ),
        rw(conv(
            "battery.mfr.date",
            "UPS.Battery.ManufacturerDate",
            Conversion::Date,
        )),
        conv(
            "battery.mfr.date",
            "UPS.PowerSummary.APCBattReplaceDate",
            Conversion::ApcDate,
        ),
        conv(
            "battery.date",
            "UPS.Battery.APCBattReplaceDate",
            Conversion::ApcDate,
        ),
        // UPS
        var("ups.load", "UPS.Output.PercentLoad", "%.1f"),
        var("ups.load", "UPS.PowerConverter.PercentLoad", "%.0f"),
    ],
    &POWER_SUMMARY_DELAYS.vars(),
    &OUTPUT_DELAYS.vars(),
    &APC_DELAYS.vars(),
    &[
        conv(
            "ups.test.result",
            "UPS.Battery.Test",
            Conversion::Lookup(TEST_READ),
        ),
        conv(
            "ups.beeper.status",
            "UPS.PowerSummary.AudibleAlarmControl",
            Conversion::Lookup(BEEPER),
        ),
        conv("ups.mfr.date", "UPS.ManufacturerDate", Conversion::Date),
        conv(
            "ups.mfr.date",
            "UPS.PowerSummary.ManufacturerDate",
            Conversion::Date,
        ),
        var(
            "ups.realpower.nominal",
            "UPS.PowerConverter.ConfigActivePower",
            "%.0f",
        ),
        var(
            "ups.realpower.nominal",
            "UPS.Output.ConfigActivePower",
            "%.0f",
        ),
        // Status bits
        status(
            "UPS.PowerSummary.PresentStatus.ACPresent",
            ONLINE,
            QUICK_POLL,
        ),
        status(
            "UPS.PowerSummary.PresentStatus.Discharging",
            DISCHARGING,
            QUICK_POLL,
        ),
        status(
            "UPS.PowerSummary.PresentStatus.Charging",
            CHARGING,
            QUICK_POLL,
        ),
        status(
            "UPS.PowerSummary.PresentStatus.ShutdownImminent",
            SHUTDOWNIMM,
            0,
        ),
        status(
            "UPS.PowerSummary.PresentStatus.BelowRemainingCapacityLimit",
            LOWBATT,
            QUICK_POLL,
        ),
        status("UPS.PowerSummary.PresentStatus.Overload", OVERLOAD, 0),
        status(
            "UPS.PowerSummary.PresentStatus.NeedReplacement",
            REPLACEBATT,
            0,
        ),
        status(
            "UPS.PowerSummary.PresentStatus.RemainingTimeLimitExpired",
            TIMELIMITEXP,
            0,
        ),
        status(
            "UPS.PowerSummary.PresentStatus.BatteryPresent",
            NOBATTERY,
            0,
        ),
        status("UPS.PowerSummary.Charging", CHARGING, QUICK_POLL),
        status("UPS.PowerSummary.Discharging", DISCHARGING, QUICK_POLL),
        status("UPS.PowerSummary.ACPresent", ONLINE, QUICK_POLL),
        status(
            "UPS.PowerSummary.BelowRemainingCapacityLimit",
            LOWBATT,
            QUICK_POLL,
        ),
        status("UPS.PowerSummary.ShutdownImminent", SHUTDOWNIMM, 0),
        status(
            "UPS.PowerSummary.APCStatusFlag",
            APC_STATUS_FLAG,
            QUICK_POLL,
        ),
        status("UPS.Input.APCLineFailCause", LINE_FAIL_VRANGE, 0),
        status("UPS.Input.APCLineFailCause", LINE_FAIL_FRANGE, 0),
        // Input
        var("input.voltage", "UPS.Input.Voltage", "%.1f"),
        var("input.voltage.nominal", "UPS.Input.ConfigVoltage", "%.0f"),
        rw(var(
            "input.transfer.low",
            "UPS.Output.LowVoltageTransfer",
            "%.0f",
        )),
        rw(var(
            "input.transfer.high",
            "UPS.Output.HighVoltageTransfer",
            "%.0f",
        )),
        rw(var(
            "input.transfer.low",
            "UPS.Input.LowVoltageTransfer",
            "%.0f",
        )),
        rw(var(
            "input.transfer.high",
            "UPS.Input.HighVoltageTransfer",
            "%.0f",
        )),
        rw(conv(
            "input.sensitivity",
            "UPS.Input.APCSensitivity",
            Conversion::Lookup(SENSITIVITY),
        )),
        // Output
        var("output.voltage", "UPS.Output.Voltage", "%.1f"),
        var("output.voltage.nominal", "UPS.Output.ConfigVoltage", "%.1f"),
        var("output.current", "UPS.Output.Current", "%.2f"),
        var("output.frequency", "UPS.Output.Frequency", "%.1f"),
        // Environment
        conv(
            "ambient.temperature",
            "UPS.APCEnvironment.APCProbe1.Temperature",
            Conversion::KelvinCelsius,
        ),
        var(
            "ambient.humidity",
            "UPS.APCEnvironment.APCProbe1.Humidity",
            "%.1f",
        ),
        // Instant commands
        cmd(
            "test.battery.start.quick",
            "UPS.BatterySystem.Battery.Test",
            "1",
        ),
        cmd("test.battery.start.quick", "UPS.Battery.Test", "1"),
        cmd(
            "test.battery.start.deep",
            "UPS.BatterySystem.Battery.Test",
            "2",
        ),
        cmd("test.battery.start.deep", "UPS.Battery.Test", "2"),
        cmd("test.battery.stop", "UPS.BatterySystem.Battery.Test", "3"),
        cmd("test.battery.stop", "UPS.Battery.Test", "3"),
        cmd("test.panel.start", "UPS.APCPanelTest", "1"),
        cmd("test.panel.stop", "UPS.APCPanelTest", "0"),
        cmd("test.panel.start", "UPS.PowerSummary.APCPanelTest", "1"),
        cmd("test.panel.stop", "UPS.PowerSummary.APCPanelTest", "0"),
    ],
    &POWER_SUMMARY_DELAYS.cmds(),
    &OUTPUT_DELAYS.cmds(),
    &APC_DELAYS.cmds(),
    &[
        cmd("shutdown.return", "UPS.Output.APCDelayBeforeReboot", "1"),
        cmd("beeper.on", "UPS.PowerSummary.AudibleAlarmControl", "2"),
        cmd("beeper.off", "UPS.PowerSummary.AudibleAlarmControl", "3"),
        cmd("beeper.enable", "UPS.PowerSummary.AudibleAlarmControl", "2"),
        cmd(
            "beeper.disable",
            "UPS.PowerSummary.AudibleAlarmControl",
            "1",
        ),
        cmd("beeper.mute", "UPS.PowerSummary.AudibleAlarmControl", "3"),
    ],
];

/// How many rows the parts hold.
const fn total(parts: &[&[Row]]) -> usize {
    let (mut n, mut p) = (0, 0);
    while p < parts.len() {
        n += parts[p].len();
        p += 1;
    }
    n
}

/// The parts end to end (a loop: stable Rust has no const slice concatenation).
const fn join<const N: usize>(parts: &[&[Row]]) -> [Row; N] {
    let mut out = [parts[0][0]; N];
    let (mut n, mut p) = (0, 0);
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[n] = parts[p][i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    out
}

/// Product strings of models whose firmware overflows some reports (`max_report_size`).
const MAX_REPORT_MODELS: &[&str] = &["Back-UPS ES 525", "Back-UPS CS"];

/// The APC product ids NUT 2.8.0's USB table gives usbhid-ups (what nut-scanner lists).
pub const PRODUCT_IDS: [u16; 3] = [0x0000, 0x0002, 0x0003];

/// NUT 2.8.0's APC claim: VID 051d with PID 0000, 0002 (with the max-report check) or 0003
/// (interrupt pipe off); another PID only when the user gave `productid`.
pub(crate) fn claim(id: &Identity, productid_given: bool) -> Claim {
    if id.vendor_id != VENDOR_ID {
        return Claim::default();
    }
    match id.product_id {
        0x0000 => Claim {
            claimed: true,
            ..Claim::default()
        },
        0x0002 => Claim {
            claimed: true,
            max_report: id
                .product
                .as_deref()
                .is_some_and(|p| MAX_REPORT_MODELS.iter().any(|m| p.starts_with(m))),
            no_interrupt: false,
        },
        0x0003 => Claim {
            claimed: true,
            max_report: false,
            no_interrupt: true,
        },
        _ => {
            if !productid_given {
                tracing::warn!(
                    "This APC device ({:04x}:{:04x}) is not (or perhaps not yet) supported; \
                     try the 'productid={:04x}' option",
                    id.vendor_id,
                    id.product_id,
                    id.product_id
                );
            }
            Claim {
                claimed: productid_given,
                ..Claim::default()
            }
        }
    }
}

/// NUT's `apc_fix_report_desc`, right after parsing, only for 051d:0002 (see
/// `fix_mains_voltage`). Returns whether anything changed.
pub fn fix_report_desc(id: &Identity, desc: &mut Descriptor) -> bool {
    id.vendor_id == VENDOR_ID && id.product_id == 0x0002 && fix_mains_voltage(desc)
}

/// Power Device usages the fix looks at.
const VOLTAGE: u32 = 0x0084_0030;
const CONFIG_VOLTAGE: u32 = 0x0084_0040;
const HIGH_VOLTAGE_TRANSFER: u32 = 0x0084_0054;

/// The mains voltage part of NUT's APC descriptor fix (`apc_fix_report_desc`).
///
/// Some Back-UPS declare mains voltages with LogMax 255 while their high transfer point is
/// higher; since the mask follows LogMax, readings above 255 V would be cut. When report 0x33's
/// HighVoltageTransfer LogMax exceeds them: report 0x31 Voltage becomes 0..2 x that LogMax,
/// report 0x30 ConfigVoltage gets LogMax 255. Only the first object with that id and usage is
/// patched. Returns whether anything changed.
fn fix_mains_voltage(desc: &mut Descriptor) -> bool {
    let Some(hvt) = desc.position_by_id_and_usage(0x33, HIGH_VOLTAGE_TRANSFER) else {
        return false;
    };
    let hvt_max = desc.fields[hvt].logical_max;
    let mut changed = false;
    if let Some(i) = desc.position_by_id_and_usage(0x31, VOLTAGE) {
        let f = &mut desc.fields_mut()[i];
        if hvt_max > f.logical_max {
            f.logical_min = 0;
            f.logical_max = hvt_max.saturating_mul(2);
            changed = true;
        }
    }
    if let Some(i) = desc.position_by_id_and_usage(0x30, CONFIG_VOLTAGE) {
        let f = &mut desc.fields_mut()[i];
        if hvt_max > f.logical_max {
            f.logical_max = 255;
            changed = true;
        }
    }
    changed
}

/// ups.mfr (USB manufacturer or "APC"), ups.model (product before `FW:` minus the one
/// character before it), ups.firmware / ups.firmware.aux (after `FW:` / `USB FW:`), serial.
pub(crate) fn format(id: &Identity) -> Strings {
    let product = id.product.clone().unwrap_or_else(|| "unknown".into());
    let (model, firmware, aux) = split_model(&product);
    Strings {
        mfr: Some(id.manufacturer.clone().unwrap_or_else(|| "APC".into())),
        model: Some(model),
        serial: id.serial.clone(),
        firmware,
        firmware_aux: aux,
    }
}

/// Cuts the text before byte `at`, dropping the one character before it (NUT writes a NUL
/// there), on a character boundary.
fn before(s: &str, at: usize) -> String {
    let head = &s[..at];
    let mut chars = head.chars();
    chars.next_back();
    chars.as_str().to_string()
}

/// Splits "Back-UPS 500 FW: 6.5.I USB FW: c1 " into ("Back-UPS 500", " 6.5.I", " c1 ").
pub(crate) fn split_model(product: &str) -> (String, Option<String>, Option<String>) {
    let Some(p1) = product.find("FW:") else {
        return (product.to_string(), None, None);
    };
    let model = before(product, p1);
    let rest = &product[p1 + 3..];
    match rest.find("USB FW:") {
        Some(p2) => (
            model,
            Some(before(rest, p2)),
            Some(rest[p2 + 7..].to_string()),
        ),
        None => (model, Some(rest.to_string()), None),
    }
}

/// The APC subdriver.
pub(crate) static SUBDRIVER: Subdriver = Subdriver {
    name: VERSION,
    usages: USAGES,
    table: &TABLE,
    claim,
    fix_report_desc,
    format,
    paths: std::sync::OnceLock::new(),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_parses_with_apc_names() {
        let t = usage_table();
        for r in &TABLE {
            t.parse_path(r.path)
                .unwrap_or_else(|e| panic!("{}: {e}", r.path));
        }
        assert_eq!(TABLE.len(), 97);
    }

    #[test]
    fn model_strings() {
        assert_eq!(
            split_model("Back-UPS 500 FW: 6.5.I USB FW: c1 "),
            (
                "Back-UPS 500".to_string(),
                Some(" 6.5.I".to_string()),
                Some(" c1 ".to_string())
            )
        );
        assert_eq!(
            split_model("Back-UPS ES 700 FW:829.D2 .I USB FW:D2"),
            (
                "Back-UPS ES 700".to_string(),
                Some("829.D2 .I".to_string()),
                Some("D2".to_string())
            )
        );
        assert_eq!(
            split_model("BK650M2-CH"),
            ("BK650M2-CH".to_string(), None, None)
        );
        let s = format(&Identity {
            vendor_id: VENDOR_ID,
            product_id: 2,
            ..Identity::default()
        });
        assert_eq!(s.mfr.as_deref(), Some("APC"));
        assert_eq!(s.model.as_deref(), Some("unknown"));
    }

    #[test]
    fn claims() {
        let id = |pid, product: &str| Identity {
            vendor_id: VENDOR_ID,
            product_id: pid,
            product: Some(product.into()),
            ..Identity::default()
        };
        assert!(claim(&id(2, "BK650M2-CH"), false).claimed);
        assert!(!claim(&id(2, "BK650M2-CH"), false).max_report);
        assert!(claim(&id(2, "Back-UPS CS 650"), false).max_report);
        assert!(claim(&id(3, "Smart-UPS X 750"), false).no_interrupt);
        assert!(!claim(&id(4, "x"), false).claimed);
        assert!(claim(&id(4, "x"), true).claimed);
        let other = Identity {
            vendor_id: 0x0764,
            ..id(2, "x")
        };
        assert!(!claim(&other, true).claimed);
    }
}
