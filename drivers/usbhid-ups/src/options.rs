//! The usbhid-ups options, in one table: the keys ups.conf and `-x` accept (the union over
//! NUT versions, `config-files.md` §2.3), and the line of help `-h` and `-L` print for each.
//! Ours beyond NUT's: `recording` (replay a `nut-hid-recording/1` file), `record` (write one)
//! and `simlog` (log the SET_REPORTs a recording receives); the framework adds `backend`.

use nut_driver::DriverOption;

const fn flag(key: &'static str, help: &'static str) -> DriverOption {
    DriverOption::flag(key, help)
}

const fn value(key: &'static str, help: &'static str) -> DriverOption {
    DriverOption::value(key, help)
}

/// Every option of usbhid-ups, in the order `-h` and `-L` list them.
pub const OPTIONS: &[DriverOption] = &[
    value("vendor", "Regular expression for the USB manufacturer string"),
    value("product", "Regular expression for the USB product string"),
    value("serial", "Regular expression for the USB serial number"),
    value("vendorid", "Regular expression for the USB vendor id (4 hex digits)"),
    value("productid", "Regular expression for the USB product id (4 hex digits)"),
    value("bus", "Regular expression for the USB bus name"),
    value("device", "Regular expression for the USB device number"),
    value("busport", "Regular expression for the USB port"),
    flag("allow_duplicates", "Take the first free device that matches"),
    value("usb_set_altinterface", "USB alternate interface to select"),
    value("usb_config_index", "USB configuration index (hex)"),
    value("usb_hid_rep_index", "USB HID report descriptor index (hex)"),
    value("usb_hid_desc_index", "USB HID descriptor index (hex)"),
    value("usb_hid_ep_in", "USB HID interrupt IN endpoint (hex)"),
    value("usb_hid_ep_out", "USB HID interrupt OUT endpoint (hex)"),
    value("subdriver", "Use this subdriver instead of the automatic choice"),
    value("lowbatt", "Low battery level to set at start (%)"),
    value("offdelay", "Delay before the output goes off at shutdown (s)"),
    value("ondelay", "Delay before the output comes back on (s)"),
    value("pollfreq", "Seconds between full walks of the device"),
    flag("pollonly", "Do not use the interrupt pipe"),
    flag("interruptonly", "Only use the interrupt pipe, do not poll"),
    value("interruptsize", "Bytes to read from the interrupt pipe"),
    value("interrupt_pipe_no_events_tolerance", "Reconnect after this many empty interrupt reads (-1: never)"),
    flag("onlinedischarge", "Treat OL+DISCHRG as on battery (old name)"),
    flag("onlinedischarge_onbattery", "Treat OL+DISCHRG as on battery"),
    flag("onlinedischarge_battery", "Treat OL+DISCHRG as on battery (documented alias)"),
    flag("onlinedischarge_calibration", "Treat OL+DISCHRG as calibration"),
    value("onlinedischarge_log_throttle_sec", "Seconds between OL+DISCHRG warnings"),
    value("onlinedischarge_log_throttle_hovercharge", "Charge (%) above which OL+DISCHRG is not logged"),
    value("lbrb_log_delay_sec", "Ignore LB/RB flapping shorter than this (s)"),
    flag("lbrb_log_delay_without_calibrating", "Apply lbrb_log_delay_sec also when not calibrating"),
    flag("disable_fix_report_desc", "Do not fix up known broken report descriptors"),
    flag("maxreport", "Work around wrong report lengths of some APC firmware"),
    flag("explore", "Diagnostic mode for unknown devices"),
    value("waitbeforereconnect", "Seconds to wait before reconnecting after an error"),
    value("recording", "Replay this nut-hid-recording/1 file instead of a device (relative: in the config directory)"),
    value("record", "Write the device, then its interrupt reports, to this nut-hid-recording/1 file"),
    value("simlog", "Append every SET_REPORT sent to a recording to this file"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_has_help_and_one_entry() {
        for (i, o) in OPTIONS.iter().enumerate() {
            assert!(!o.help.is_empty(), "no help for {}", o.key);
            assert!(
                OPTIONS[..i].iter().all(|p| p.key != o.key),
                "{} twice",
                o.key
            );
        }
        assert_eq!(OPTIONS.len(), 39);
    }
}
