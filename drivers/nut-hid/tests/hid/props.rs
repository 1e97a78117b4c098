//! Property tests: the codec round-trips, and parsing never panics.

use crate::common::field;
use nut_hid::{parse, UsageTable};
use proptest::prelude::*;

/// (size, min, max, value) with min <= value <= max representable in `size` bits.
fn ranged() -> impl Strategy<Value = (u32, i64, i64, i64)> {
    (1u32..=32, any::<bool>())
        .prop_flat_map(|(size, signed)| {
            let (lo, hi) = if signed {
                (-(1i64 << (size - 1)), (1i64 << (size - 1)) - 1)
            } else {
                (0, (1i64 << size) - 1)
            };
            (Just(size), lo..=hi, lo..=hi)
        })
        .prop_flat_map(|(size, a, b)| {
            let (min, max) = (a.min(b), a.max(b));
            (Just(size), Just(min), Just(max), min..=max)
        })
}

proptest! {
    #[test]
    fn insert_then_extract_is_identity(
        (size, min, max, v) in ranged(),
        offset in 0u32..=255,
        background in proptest::collection::vec(any::<u8>(), 70),
    ) {
        let f = field(7, size, offset, min, max);
        let mut report = background;
        report.truncate(f.needed_len());
        let before = report.clone();
        f.insert(&mut report, v).expect("sized to fit");
        prop_assert_eq!(f.extract(&report), Some(v));
        // Bits outside the field are untouched.
        let first = offset as usize + 8;
        for bit in 0..report.len() * 8 {
            if bit < first || bit >= first + size as usize {
                prop_assert_eq!(report[bit >> 3] >> (bit & 7) & 1, before[bit >> 3] >> (bit & 7) & 1);
            }
        }
        // Without physical range or exponent, value and logical coincide.
        prop_assert_eq!(f.from_value(f.to_value(v)), Some(v));
    }

    #[test]
    fn extract_is_always_in_range_or_none(
        size in 0u32..=255,
        offset in 0u32..=255,
        min in any::<i32>(),
        max in any::<i32>(),
        report in proptest::collection::vec(any::<u8>(), 0..70),
    ) {
        let f = field(7, size, offset, i64::from(min), i64::from(max));
        match f.extract(&report) {
            None => prop_assert!(report.len() < f.needed_len()),
            Some(v) if min <= max => prop_assert!(i64::from(min) <= v && v <= i64::from(max)),
            Some(_) => {}
        }
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_descriptor(&bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_real_descriptor(
        edits in proptest::collection::vec((0usize..743, any::<u8>()), 1..8),
        cut in 0usize..=743,
    ) {
        let mut bytes = bk650m2();
        for (i, b) in edits {
            bytes[i] = b;
        }
        bytes.truncate(cut.max(1));
        check_descriptor(&bytes);
    }
}

fn check_descriptor(bytes: &[u8]) {
    let table = UsageTable::generic();
    if let Ok(desc) = parse(bytes) {
        assert!(!desc.fields.is_empty() && desc.fields.len() <= 500);
        for f in &desc.fields {
            assert!(f.offset <= 255 && f.size <= 255 && f.path.len() <= 10);
            let len = desc.report_len(f.report_id);
            // NUT's buffer always holds every object of its report.
            assert!(f.needed_len() <= len, "{f:?} in {len}");
            let buf = vec![0xa5u8; len];
            let v = f.extract(&buf).expect("fits");
            let _ = f.to_value(v);
            let _ = table.path_name(&f.path);
        }
    }
}

fn bk650m2() -> Vec<u8> {
    include_str!("../data/back-ups-bk650m2-ch.descriptor.hex")
        .split_whitespace()
        .map(|t| u8::from_str_radix(t, 16).expect("hex"))
        .collect()
}
