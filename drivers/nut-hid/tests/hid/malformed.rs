//! Broken descriptors: an error naming the byte offset, or a note and a usable result; never a panic.

use nut_hid::{parse, Error, NoteKind, MAX_DESCRIPTOR_LEN, MAX_OBJECTS};

/// Power Device page, report 1, 8-bit slots, count 1.
const GLOBALS: [u8; 8] = [0x05, 0x84, 0x85, 0x01, 0x75, 0x08, 0x95, 0x01];
/// Usage Voltage + Feature (Data, Var).
const OBJECT: [u8; 4] = [0x09, 0x30, 0xb1, 0x02];

#[test]
fn truncated_item_names_its_offset() {
    assert_eq!(
        parse(&[0x05]),
        Err(Error::Truncated {
            offset: 0,
            needed: 2,
            available: 1
        })
    );
    let mut d = GLOBALS.to_vec();
    d.extend_from_slice(&OBJECT);
    d.extend_from_slice(&[0x27, 0xff, 0xff]); // 4-byte LogMax cut after 2 bytes
    let err = parse(&d).unwrap_err();
    assert_eq!(
        err,
        Error::Truncated {
            offset: 12,
            needed: 5,
            available: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "item at byte 12 needs 5 bytes but only 3 remain"
    );
}

#[test]
fn too_many_objects_keeps_the_first_500() {
    let mut d = GLOBALS.to_vec();
    for _ in 0..MAX_OBJECTS + 1 {
        d.extend_from_slice(&OBJECT);
    }
    let desc = parse(&d).expect("usable");
    assert_eq!(desc.fields.len(), MAX_OBJECTS);
    assert_eq!(desc.notes.len(), 1);
    assert_eq!(desc.notes[0].kind, NoteKind::TooManyObjects);
    assert_eq!(
        desc.notes[0].offset,
        GLOBALS.len() + 4 * (MAX_OBJECTS - 1) + 2
    );
    // 500 one-byte slots wrap the 8-bit offset: the largest end is bit 256.
    assert_eq!(desc.report_len(1), 33);
    assert_eq!(
        desc.declared_bits(1, nut_hid::ReportKind::Feature),
        Some(500 * 8)
    );
}

#[test]
fn usage_stack_overflow_is_dropped_with_a_note() {
    let mut d = GLOBALS.to_vec();
    d.extend_from_slice(&[0x95, 60]);
    for i in 0..60u8 {
        d.extend_from_slice(&[0x09, i + 1]);
    }
    d.extend_from_slice(&[0xb1, 0x02, 0x75, 0x08]);
    let desc = parse(&d).expect("usable");
    assert_eq!(desc.fields.len(), 50);
    assert_eq!(desc.notes.len(), 10);
    assert_eq!(desc.notes[0].kind, NoteKind::UsageStackFull);
    assert_eq!(desc.notes[0].offset, GLOBALS.len() + 2 + 50 * 2);
    // 60 slots of 8 bits, offsets wrapped at 256 bits.
    assert_eq!(desc.report_len(1), 33);
    assert_eq!(
        desc.declared_bits(1, nut_hid::ReportKind::Feature),
        Some(480)
    );
}

#[test]
fn deep_nesting_is_an_error() {
    let mut d = vec![0x05, 0x84];
    for _ in 0..11 {
        d.extend_from_slice(&[0x09, 0x04, 0xa1, 0x00]);
    }
    let err = parse(&d).unwrap_err();
    assert_eq!(
        err,
        Error::PathTooDeep {
            offset: 2 + 10 * 4 + 2,
            report_id: 0,
            max: 10
        }
    );
    assert!(err.to_string().contains("byte 44"), "{err}");
    // Ten collections fit, but then a field has no room for its own usage.
    let mut d = GLOBALS.to_vec();
    for _ in 0..10 {
        d.extend_from_slice(&[0x09, 0x04, 0xa1, 0x00]);
    }
    d.extend_from_slice(&OBJECT);
    assert_eq!(
        parse(&d),
        Err(Error::PathTooDeep {
            offset: GLOBALS.len() + 40 + 2,
            report_id: 1,
            max: 10
        })
    );
    // A vendor collection type adds an index node, which counts too.
    let mut d = vec![0x05, 0x84];
    for _ in 0..5 {
        d.extend_from_slice(&[0x09, 0x04, 0xa1, 0x80]);
    }
    d.extend_from_slice(&[0x09, 0x30, 0xb1, 0x02]);
    assert!(matches!(
        parse(&d),
        Err(Error::PathTooDeep { offset: 24, .. })
    ));
}

#[test]
fn end_collection_without_collection_is_skipped() {
    let mut d = vec![0xc0];
    d.extend_from_slice(&GLOBALS);
    d.extend_from_slice(&OBJECT);
    d.push(0xc0);
    let desc = parse(&d).expect("usable");
    assert_eq!(desc.fields.len(), 1);
    assert_eq!(desc.fields[0].path.nodes(), &[0x0084_0030]);
    let kinds: Vec<(usize, NoteKind)> = desc
        .notes
        .iter()
        .map(|n| (n.offset, n.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (0, NoteKind::UnmatchedEndCollection),
            (13, NoteKind::UnmatchedEndCollection)
        ]
    );
    assert_eq!(
        desc.notes[0].to_string(),
        "byte 0: End Collection without Collection; ignored"
    );
}

#[test]
fn long_items_are_skipped_or_truncated() {
    let mut d = vec![0xfe, 0x02, 0x10, 0xaa, 0xbb];
    d.extend_from_slice(&GLOBALS);
    d.extend_from_slice(&OBJECT);
    let desc = parse(&d).expect("usable");
    assert_eq!(desc.fields.len(), 1);
    assert_eq!(desc.notes[0].kind, NoteKind::LongItemSkipped { len: 2 });
    assert_eq!(desc.notes[0].offset, 0);
    // Declared payload runs past the end.
    let mut d = GLOBALS.to_vec();
    d.extend_from_slice(&OBJECT);
    d.extend_from_slice(&[0xfe, 0x05, 0x10, 0xaa]);
    assert_eq!(
        parse(&d),
        Err(Error::Truncated {
            offset: 12,
            needed: 8,
            available: 4
        })
    );
    // Header itself cut.
    assert!(matches!(
        parse(&[0xfe, 0x05]),
        Err(Error::Truncated { offset: 0, .. })
    ));
}

#[test]
fn oversized_descriptor_is_refused() {
    let mut d = GLOBALS.to_vec();
    d.extend_from_slice(&OBJECT);
    d.resize(MAX_DESCRIPTOR_LEN, 0x00); // 0x00 items are ignored
    assert!(parse(&d).is_ok());
    d.push(0);
    assert_eq!(
        parse(&d),
        Err(Error::TooLarge {
            len: MAX_DESCRIPTOR_LEN + 1,
            max: MAX_DESCRIPTOR_LEN
        })
    );
}

#[test]
fn many_reports_stay_bounded() {
    // 255 ids x 3 types of padding-free objects would need 765 offset slots; NUT has 500.
    let mut d = vec![0x05, 0x84, 0x75, 0x08, 0x95, 0x01];
    for id in 1..=255u8 {
        for main in [0x81u8, 0x91, 0xb1] {
            d.extend_from_slice(&[0x85, id, 0x09, 0x30, main, 0x02]);
        }
    }
    let desc = parse(&d[..MAX_DESCRIPTOR_LEN.min(d.len())]).expect("object limit first");
    assert_eq!(desc.fields.len(), MAX_OBJECTS);
    // Padding-only reports hit the slot limit instead.
    let mut d = vec![
        0x05, 0x84, 0x75, 0x08, 0x95, 0x01, 0x85, 0x01, 0x09, 0x30, 0xb1, 0x02,
    ];
    for id in 2..=255u8 {
        for main in [0x81u8, 0x91] {
            d.extend_from_slice(&[0x85, id, main, 0x01]);
        }
    }
    let err = parse(&d).unwrap_err();
    assert!(
        matches!(err, Error::TooManyReports { max: 500, .. }),
        "{err}"
    );
}
