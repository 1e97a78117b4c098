//! APC vendor usages (page 0xFF86, plus the legacy "BUP" ones), as NUT's APC subdriver names
//! them. [`crate::UsageTable::with_apc`] puts this table in front of the generic one.

use crate::descriptor::Descriptor;

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

/// Power Device usages the fix looks at.
const VOLTAGE: u32 = 0x0084_0030;
const CONFIG_VOLTAGE: u32 = 0x0084_0040;
const HIGH_VOLTAGE_TRANSFER: u32 = 0x0084_0054;

/// NUT's APC descriptor fix (`apc_fix_report_desc`), for the caller to apply only to
/// VID 0x051d / PID 0x0002 right after parsing.
///
/// Some Back-UPS declare mains voltages with LogMax 255 while their high transfer point is
/// higher; since the mask follows LogMax, readings above 255 V would be cut. When report 0x33's
/// HighVoltageTransfer LogMax exceeds them: report 0x31 Voltage becomes 0..2 x that LogMax,
/// report 0x30 ConfigVoltage gets LogMax 255. Only the first object with that id and usage is
/// patched. Returns whether anything changed.
pub fn fix_report_desc(desc: &mut Descriptor) -> bool {
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
