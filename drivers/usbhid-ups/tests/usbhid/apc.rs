//! The APC subdriver's usage names and report descriptor fix on nut-hid's APC fixtures: the
//! field tables NUT derived from the two units' descriptors, worked values, and the mains
//! voltage fix of 051d:0002.

use nut_hid::{parse, ReportKind};
use usbhid_ups::apc::{fix_report_desc, usage_table};
use usbhid_ups::device::Identity;

use crate::common::{bytes, fixture, BK650M2, SMART_UPS_X};

/// The BK650M2-CH's USB ids.
const BK650M2_ID: Identity = Identity {
    vendor_id: 0x051d,
    product_id: 0x0002,
    bcd_device: None,
    manufacturer: None,
    product: None,
    serial: None,
    bus: None,
    device: None,
    port: None,
};

fn check_field_table(desc_hex: &str, table_file: &str, objects: usize) {
    let desc = parse(&bytes(desc_hex)).expect("fixture descriptor parses");
    let table = usage_table();
    let ours: Vec<String> = desc.fields.iter().map(|f| f.summary(&table)).collect();
    let text = fixture(table_file);
    // Section A: the non-comment lines from "# SECTION A (" to the next "# SECTION".
    let expected: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("# SECTION A ("))
        .skip(1)
        .take_while(|l| !l.starts_with("# SECTION"))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(expected.len(), objects);
    for (i, (o, e)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(o, e, "object #{i}");
    }
    assert_eq!(ours.len(), expected.len());
}

#[test]
fn bk650m2_field_table_matches_section_a() {
    check_field_table(BK650M2, "back-ups-bk650m2-ch.values.txt", 71);
}

#[test]
fn smart_ups_x_750_field_table_matches_section_a() {
    check_field_table(SMART_UPS_X, "smart-ups-x-750.fields.txt", 54);
}

#[test]
fn bk650m2_worked_examples() {
    let desc = parse(&bytes(BK650M2)).expect("fixture descriptor parses");
    let t = usage_table();
    let get = |p: &str| {
        desc.find(&t.parse_path(p).expect("path"), ReportKind::Feature)
            .unwrap_or_else(|| panic!("{p}"))
    };
    let v = |p: &str, bytes: &[u8]| get(p).value(bytes).expect("long enough");
    // NUT multiplies by 10^-2 computed as 0.1 * 0.1, so the product is 13.500000000000002.
    assert_eq!(
        v("UPS.Battery.Voltage", &[0x26, 0x46, 0x05]),
        1350.0 * (0.1 * 0.1)
    );
    assert!((v("UPS.Battery.Voltage", &[0x26, 0x46, 0x05]) - 13.5).abs() < 1e-12);
    assert_eq!(
        v("UPS.PowerSummary.DelayBeforeShutdown", &[0x15, 0xff, 0xff]),
        -1.0
    );
    assert_eq!(v("UPS.Input.Voltage", &[0x31, 0xe8, 0x00]), 232.0);
    assert_eq!(
        v("UPS.PowerConverter.ConfigActivePower", &[0x52, 0x86, 0x01]),
        390.0
    );
    assert_eq!(v("UPS.Battery.RunTimeToEmpty", &[0x23, 0x22, 0x0e]), 3618.0);
    assert!((v("UPS.Battery.ConfigVoltage", &[0x25, 0xb0, 0x04]) - 12.0).abs() < 1e-12);
    // LogMax 255 masks a 16-bit field to 8 bits (why APC's descriptor fix exists): 0x0116 -> 0x16.
    assert_eq!(v("UPS.Input.Voltage", &[0x31, 0x16, 0x01]), 22.0);
    // Prefix lookup: first Feature object under PowerSummary.
    assert_eq!(
        desc.find(
            &t.parse_path("UPS.PowerSummary").expect("p"),
            ReportKind::Feature
        )
        .map(|f| f.report_id),
        Some(0x01)
    );
    // Input-only objects are invisible to a Feature lookup.
    assert!(desc
        .find(
            &t.parse_path("UPS.ffff00ff.ffff00ef").expect("p"),
            ReportKind::Output
        )
        .is_none());
    // APC vendor names resolve.
    assert_eq!(
        get("UPS.APCGeneralCollection.APCDelayBeforeReboot").report_id,
        0x40
    );
    assert_eq!(get("ups.input.apcsensitivity").report_id, 0x35);
    // Short answer: the field needs 3 bytes.
    assert_eq!(get("UPS.Battery.Voltage").extract(&[0x26, 0x46]), None);
}

#[test]
fn apc_fix_widens_mains_voltage() {
    let mut desc = parse(&bytes(BK650M2)).expect("ok");
    let t = usage_table();
    let volt = t.parse_path("UPS.Input.Voltage").expect("p");
    let before = desc.find(&volt, ReportKind::Feature).expect("f").clone();
    assert_eq!(before.value(&[0x31, 0x16, 0x01]), Some(22.0));
    assert!(fix_report_desc(&BK650M2_ID, &mut desc));
    let after = desc.find(&volt, ReportKind::Feature).expect("f");
    assert_eq!((after.logical_min, after.logical_max), (0, 556));
    assert_eq!(after.value(&[0x31, 0x16, 0x01]), Some(278.0));
    let cfg = desc
        .find(
            &t.parse_path("UPS.Input.ConfigVoltage").expect("p"),
            ReportKind::Feature,
        )
        .expect("f");
    assert_eq!(cfg.logical_max, 255);
    // A descriptor without report 0x33 is left alone.
    let mut other = parse(&[
        0x05, 0x84, 0x09, 0x04, 0xa1, 0x01, // UPS application collection
        0x85, 1, 0x75, 8, 0x95, 1, 0x09, 0x30, 0xb1, 0x02, 0xc0,
    ])
    .expect("ok");
    assert!(!fix_report_desc(&BK650M2_ID, &mut other));
    // Another product of APC's is left alone too.
    let mut desc = parse(&bytes(BK650M2)).expect("ok");
    let smart = Identity {
        product_id: 0x0003,
        ..BK650M2_ID
    };
    assert!(!fix_report_desc(&smart, &mut desc));
}
