//! Item decoding, value codec and path naming on small hand-made descriptors.

use crate::common::field;
use nut_hid::{parse, Error, Field, ReportBuffer, ReportKind, UsagePath, UsageTable};

/// UPS application collection around `body`, Power Device page.
fn ups(body: &[u8]) -> Vec<u8> {
    let mut d = vec![0x05, 0x84, 0x09, 0x04, 0xa1, 0x01];
    d.extend_from_slice(body);
    d.push(0xc0);
    d
}

fn only_field(body: &[u8]) -> Field {
    let desc = parse(&ups(body)).expect("parses");
    assert_eq!(desc.fields.len(), 1, "{:?}", desc.fields);
    desc.fields[0].clone()
}

/// The generic table behind a few vendor usages (APC's names and codes), the way a subdriver
/// builds its table.
fn with_vendor() -> UsageTable {
    UsageTable::generic().with_vendor(&[
        ("APCSensitivity", 0xFF86_0061),
        ("APC_UPS_FirmwareRevision", 0xFF86_0042),
        ("APCDelayBeforeReboot", 0xFF86_007C),
    ])
}

#[test]
fn min_max_are_twos_complement_of_their_width() {
    // 26 ff 00 = +255; 15 ff = -1; 16 ff ff = -1; 27 ff ff 00 00 = 65535
    let f = only_field(&[
        0x85, 1, 0x75, 8, 0x95, 1, 0x15, 0xff, 0x26, 0xff, 0x00, 0x09, 0x30, 0xb1, 0x02,
    ]);
    assert_eq!((f.logical_min, f.logical_max), (-1, 255));
    let f = only_field(&[
        0x85, 1, 0x75, 16, 0x95, 1, 0x16, 0xff, 0xff, 0x27, 0xff, 0xff, 0, 0, 0x09, 0x30, 0xb1,
        0x02,
    ]);
    assert_eq!((f.logical_min, f.logical_max), (-1, 65535));
    assert!(!f.assumed_logmax);
    // Physical range recorded only when given.
    assert_eq!((f.physical_min, f.physical_max), (None, None));
    let f = only_field(&[
        0x85, 1, 0x75, 8, 0x95, 1, 0x35, 0x00, 0x46, 0xe8, 0x03, 0x09, 0x30, 0xb1, 0x02,
    ]);
    assert_eq!((f.physical_min, f.physical_max), (Some(0), Some(1000)));
}

#[test]
fn logmax_below_logmin_is_read_unsigned() {
    let desc = parse(&ups(&[
        0x85, 0x0c, 0x75, 8, 0x95, 1, 0x15, 0, 0x25, 0xff, 0x09, 0x30, 0xb1, 0xa2,
    ]))
    .expect("ok");
    let f = &desc.fields[0];
    assert_eq!(
        (f.logical_min, f.logical_max, f.assumed_logmax),
        (0, 255, true)
    );
    assert_eq!(desc.notes.len(), 1);
    assert_eq!(desc.notes[0].report_id, 0x0c);
    assert_eq!(desc.notes[0].offset, 14);
    // Only the LogMin in effect counts: with LogMin -1 the same bytes mean -1.
    let f = only_field(&[
        0x85, 1, 0x75, 8, 0x95, 1, 0x15, 0xff, 0x25, 0xff, 0x09, 0x30, 0xb1, 0x02,
    ]);
    assert_eq!(
        (f.logical_min, f.logical_max, f.assumed_logmax),
        (-1, -1, false)
    );
}

#[test]
fn unit_exponent_nibbles() {
    for (byte, exp) in [
        (0x05u8, 5i8),
        (0x07, 7),
        (0x08, -8),
        (0x0e, -2),
        (0x0f, -1),
        (0xfe, -2),
        (0x00, 0),
    ] {
        let f = only_field(&[
            0x85, 1, 0x75, 8, 0x95, 1, 0x55, byte, 0x09, 0x30, 0xb1, 0x02,
        ]);
        assert_eq!(f.unit_exponent, exp, "0x{byte:02x}");
    }
}

#[test]
fn unit_table_and_exponent() {
    let mut f = field(1, 16, 0, 0, 65535);
    f.unit = 0x00F0_D121; // volt, k = 7
    f.unit_exponent = 5;
    assert_eq!(f.exponent(), -2);
    assert_eq!(f.to_value(1350), 1350.0 * (0.1 * 0.1));
    // Writing 13.5 V back: 13.5 / 0.010000000000000002 truncates to 1349, as in NUT.
    assert_eq!(f.from_value(13.5), Some(1349));
    assert_eq!(f.from_value(13.6), Some(1359));
    assert_eq!(f.from_value(14.0), Some(1399));
    f.unit = 0x0000_D121; // VA / W
    f.unit_exponent = 7;
    assert_eq!(f.to_value(390), 390.0);
    f.unit = 0x0000_1001; // second, k = 0: the raw exponent applies
    f.unit_exponent = 1;
    assert_eq!(f.to_value(36), 360.0);
    f.unit = 0x1234_5678; // unknown unit: k = 0
    f.unit_exponent = -1;
    assert_eq!(f.to_value(5), 0.5);
    // The subtraction is 8-bit like NUT: -128 - 7 wraps to 121.
    f.unit = 0x00F0_D121;
    f.unit_exponent = -128;
    assert_eq!(f.exponent(), 121);
}

#[test]
fn extract_masks_by_logical_range_not_size() {
    // Back-UPS BF500: 32-bit field, LogMax 0xffff, garbage in the high bytes.
    let f = field(1, 32, 0, 0, 0xffff);
    assert_eq!(f.extract(&[1, 0x00, 0x0a, 0x08, 0x80]), Some(0x0a00));
    // Signed 8-bit.
    let f = field(1, 8, 0, -128, 127);
    assert_eq!(f.extract(&[1, 0x80]), Some(-128));
    assert_eq!(f.extract(&[1, 0xff]), Some(-1));
    // DelayBeforeShutdown: LogMin -1, LogMax 32767.
    let f = field(1, 16, 0, -1, 32767);
    assert_eq!(f.extract(&[1, 0xff, 0xff]), Some(-1));
    assert_eq!(f.extract(&[1, 0x14, 0x00]), Some(20));
    // Clamp: range 1..3 keeps 2 bits; 0 clamps up to 1.
    let f = field(1, 8, 0, 1, 3);
    assert_eq!(f.extract(&[1, 0x00]), Some(1));
    assert_eq!(f.extract(&[1, 0x07]), Some(3));
    // LogMin > LogMax (possible in a broken descriptor): NUT's order, no panic.
    let f = field(1, 8, 0, 10, 5);
    assert_eq!(f.extract(&[1, 0x00]), Some(10));
    assert_eq!(f.extract(&[1, 0x07]), Some(10));
    // Bits at an offset, LSB first across bytes.
    let f = field(1, 4, 6, 0, 15);
    assert_eq!(f.extract(&[1, 0b1100_0000, 0b0000_0011]), Some(15));
    assert_eq!(f.extract(&[1, 0b0100_0000, 0b0000_0010]), Some(0b1001));
    assert_eq!(f.extract(&[1, 0xff]), None);
    assert_eq!(f.needed_len(), 3);
}

#[test]
fn physical_range() {
    let mut f = field(1, 8, 0, 0, 100);
    f.physical_min = Some(0);
    f.physical_max = Some(1000);
    assert_eq!(f.to_value(50), 500.0);
    assert_eq!(f.from_value(500.0), Some(50));
    assert_eq!(f.from_value(5000.0), Some(100)); // clamped
    assert_eq!(f.from_value(-5.0), Some(0));
    // Both zero, or only one given: physical = logical, no clamp on writes.
    f.physical_max = Some(0);
    assert_eq!(f.to_value(50), 50.0);
    f.physical_max = None;
    assert_eq!(f.from_value(5000.0), Some(5000));
    // Inverted physical range: logical unchanged.
    f.physical_min = Some(10);
    f.physical_max = Some(5);
    assert_eq!(f.to_value(42), 42.0);
}

#[test]
fn constant_fields_are_not_writable() {
    let mut f = field(1, 8, 0, 0, 255);
    f.attributes = 0x01;
    assert!(f.is_constant());
    assert_eq!(f.from_value(3.0), None);
    f.attributes = 0x03; // Constant + Variable: NUT only refuses exactly 0x01
    assert_eq!(f.from_value(3.0), Some(3));
}

#[test]
fn insert_keeps_other_bits() {
    let f = field(1, 4, 6, 0, 15);
    let mut r = [1u8, 0xff, 0xff];
    f.insert(&mut r, 0).expect("fits");
    assert_eq!(r, [1, 0b0011_1111, 0b1111_1100]);
    f.insert(&mut r, 0b1001).expect("fits");
    assert_eq!(f.extract(&r), Some(0b1001));
    assert_eq!(
        f.insert(&mut [1u8, 0], 1),
        Err(Error::ReportTooShort {
            report_id: 1,
            needed: 3,
            len: 2
        })
    );
}

#[test]
fn collections_index_nodes_and_padding() {
    // Vendor collection type 0x85 adds index node [5]; End Collection drops both.
    let d = ups(&[
        0x09, 0x24, 0xa1, 0x85, // PowerSummary, collection type 0x85
        0x85, 0x02, 0x75, 0x08, 0x95, 0x03, 0x09, 0x30, 0x09, 0x40, 0xb1,
        0x02, // 2 objects + 1 padding
        0xc0, //
        0x09, 0x35, 0xb1, 0x02, // Count 3 still: PercentLoad + 2 padding, same report
    ]);
    let desc = parse(&d).expect("ok");
    let t = UsageTable::generic();
    let lines: Vec<String> = desc.fields.iter().map(|f| f.summary(&t)).collect();
    assert_eq!(
        lines,
        vec![
            "UPS.PowerSummary.[5].Voltage | Feature | 0x02 | 0 | 8 | 0 | 0 | 0x0 | 0 | 0x02",
            "UPS.PowerSummary.[5].ConfigVoltage | Feature | 0x02 | 8 | 8 | 0 | 0 | 0x0 | 0 | 0x02",
            "UPS.PercentLoad | Feature | 0x02 | 24 | 8 | 0 | 0 | 0x0 | 0 | 0x02",
        ]
    );
    assert_eq!(desc.report_len(2), 7);
    assert_eq!(desc.declared_bits(2, ReportKind::Feature), Some(48));
    assert_eq!(desc.declared_bits(2, ReportKind::Input), None);
    let p = t
        .parse_path("UPS.PowerSummary.[5].ConfigVoltage")
        .expect("path");
    assert_eq!(
        desc.find(&p, ReportKind::Feature).map(|f| f.offset),
        Some(8)
    );
}

#[test]
fn report_count_zero_means_256_slots_and_offsets_wrap() {
    // NUT counts a uint8_t down from 0: 256 one-byte slots, offsets wrap at 256 bits.
    let desc = parse(&ups(&[
        0x85, 3, 0x75, 8, 0x95, 0, 0x09, 0x30, 0xb1, 0x02, 0x95, 1, 0x09, 0x31, 0xb1, 0x02,
    ]))
    .expect("ok");
    assert_eq!(desc.declared_bits(3, ReportKind::Feature), Some(257 * 8));
    // Slot 256 (the Current object) starts at 2048 bits = 0 after the 8-bit wrap.
    assert_eq!(desc.fields[1].offset, 0);
    assert_eq!(desc.report_len(3), 33);
}

#[test]
fn a_final_main_item_only_yields_its_first_slot() {
    // NUT stops resuming a main item's slots once no descriptor bytes remain.
    let body = [
        0x05, 0x84, 0x85, 1, 0x75, 8, 0x95, 3, 0x09, 0x30, 0x09, 0x31, 0x09, 0x32, 0xb1, 0x02,
    ];
    let desc = parse(&body).expect("ok");
    assert_eq!(desc.fields.len(), 1);
    assert_eq!(desc.report_len(1), 2);
    let mut more = body.to_vec();
    more.push(0xc0); // a trailing item (here a stray End Collection) lets all three through
    let desc = parse(&more).expect("ok");
    assert_eq!(desc.fields.len(), 3);
    assert_eq!(desc.report_len(1), 4);
}

#[test]
fn report_id_zero_keeps_offset_zero_like_nut() {
    let desc = parse(&ups(&[
        0x75, 8, 0x95, 2, 0x09, 0x30, 0x09, 0x31, 0xb1, 0x02,
    ]))
    .expect("ok");
    assert_eq!(
        desc.fields
            .iter()
            .map(|f| (f.report_id, f.offset))
            .collect::<Vec<_>>(),
        vec![(0, 0), (0, 0)]
    );
    assert_eq!(desc.report_len(0), 2);
}

#[test]
fn four_byte_usage_carries_its_page_and_locals_reset() {
    let desc = parse(&ups(&[
        0x85, 1, 0x75, 8, 0x95, 1, //
        0x0b, 0x61, 0x00, 0x86, 0xff, 0xb1, 0x02, // Usage ff860061
        0x09, 0x30, 0x09, 0x31, 0xb1, 0x02, // Count 1: Current is dropped with the locals
        0xb1, 0x03, // no usage left: padding only
    ]))
    .expect("ok");
    let t = with_vendor();
    let names: Vec<String> = desc.fields.iter().map(|f| t.path_name(&f.path)).collect();
    assert_eq!(names, vec!["UPS.APCSensitivity", "UPS.Voltage"]);
    assert_eq!(
        UsageTable::generic().path_name(&desc.fields[0].path),
        "UPS.ff860061"
    );
    assert_eq!(desc.report_len(1), 4);
}

#[test]
fn path_parsing_and_naming() {
    let t = with_vendor();
    let p = t
        .parse_path("UPS.PowerSummary.RemainingCapacity")
        .expect("ok");
    assert_eq!(p, UsagePath(vec![0x0084_0004, 0x0084_0024, 0x0085_0066]));
    assert_eq!(
        t.parse_path("ups.POWERSUMMARY.remainingcapacity"),
        Ok(p.clone())
    );
    assert_eq!(
        t.parse_path("UPS..PowerSummary.RemainingCapacity."),
        Ok(p.clone())
    );
    assert_eq!(t.path_name(&p), "UPS.PowerSummary.RemainingCapacity");
    assert_eq!(p.to_string(), "00840004.00840024.00850066");
    assert_eq!(
        t.parse_path("UPS.ff860042.[3]").expect("ok"),
        UsagePath(vec![0x0084_0004, 0xff86_0042, 0x00ff_0003])
    );
    assert_eq!(
        t.path_name(&UsagePath(vec![0xff86_0042, 0x00ff_0003, 0xffff_00ef])),
        "APC_UPS_FirmwareRevision.[3].ffff00ef"
    );
    // Duplicate names: the first table entry wins (page 0x84 before 0x85).
    assert_eq!(t.usage("Undefined"), Some(0x0084_0000));
    assert_eq!(t.usage("VoltageOutOfRange"), Some(0x0084_0063));
    assert_eq!(t.name(0x0085_00d8), Some("VoltageOutOfRange"));
    assert_eq!(t.usage("APCDelayBeforeReboot"), Some(0xff86_007c));
    assert_eq!(UsageTable::generic().usage("APCDelayBeforeReboot"), None);
    assert_eq!(
        t.parse_path("UPS.NoSuchThing"),
        Err(Error::UnknownUsage {
            path: "UPS.NoSuchThing".into(),
            token: "NoSuchThing".into()
        })
    );
    assert!(t.parse_path("UPS.1ff860042").is_err());
    assert!(t.parse_path("UPS.[x]").is_err());
    let deep = ["UPS"; 11].join(".");
    assert!(matches!(
        t.parse_path(&deep),
        Err(Error::TooDeep { max: 10, .. })
    ));
    assert_eq!(t.parse_path("").map(|p| p.len()), Ok(0));
}

#[test]
fn report_buffer_keeps_old_bytes_after_short_answers() {
    let desc = parse(&ups(&[
        0x85, 0x20, 0x75, 16, 0x95, 3, 0x15, 0, 0x27, 0xff, 0xff, 0, 0, 0x09, 0x30, 0x09, 0x31,
        0x09, 0x32, 0xb1, 0x02,
    ]))
    .expect("ok");
    let mut buf = ReportBuffer::new(&desc);
    assert_eq!(buf.len_of(0x20), 7);
    assert_eq!(buf.len_of(0x21), 0);
    assert_eq!(buf.report(0x20), Some(&[0x20, 0, 0, 0, 0, 0, 0][..]));
    assert_eq!(buf.fill(0x20, &[0x20, 1, 0, 2, 0, 3, 0, 99, 99]), 7);
    assert_eq!(buf.fill(0x20, &[0x20, 7, 0]), 3);
    let vals: Vec<Option<i64>> = desc.fields.iter().map(|f| buf.get(f)).collect();
    assert_eq!(vals, vec![Some(7), Some(2), Some(3)]);
    assert_eq!(buf.fill_tagged(&[0x20, 8]), Some(0x20));
    assert_eq!(buf.fill_tagged(&[0x55, 8]), None);
    assert_eq!(buf.fill_tagged(&[]), None);
    buf.set(&desc.fields[2], 0x1234).expect("fits");
    assert_eq!(buf.report(0x20), Some(&[0x20, 8, 0, 2, 0, 0x34, 0x12][..]));
}

#[test]
fn empty_and_padding_only_descriptors_have_no_objects() {
    assert_eq!(parse(&[]), Err(Error::NoObjects));
    assert_eq!(
        parse(&ups(&[0x75, 8, 0x95, 4, 0x81, 0x01])),
        Err(Error::NoObjects)
    );
}
