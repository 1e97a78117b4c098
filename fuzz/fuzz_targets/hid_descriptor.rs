//! HID report descriptors (nut-hid).
//!
//! Arbitrary bytes go through `nut_hid::parse`: no panic. For a parsed descriptor every object
//! respects NUT's limits, fits in NUT's buffer for its report, and decodes from a buffer of
//! arbitrary length (taken from the input) without panicking; writing a value back and reading
//! it again stays within the logical range.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nut_hid::{parse, ReportBuffer, UsageTable};

static TABLE: OnceLock<UsageTable> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(desc) = parse(data) else { return };
    assert!(!desc.fields.is_empty() && desc.fields.len() <= nut_hid::MAX_OBJECTS);
    let table = TABLE.get_or_init(UsageTable::generic);
    let mut buffers = ReportBuffer::new(&desc);
    for (i, f) in desc.fields.iter().enumerate() {
        assert!(f.offset <= 255 && f.size <= 255);
        assert!(f.path.len() <= nut_hid::MAX_PATH_DEPTH);
        assert!(f.needed_len() <= desc.report_len(f.report_id));
        let _ = table.path_name(&f.path);
        // A report of arbitrary length cut from the input itself.
        let len = data.get(i).map_or(0, |&b| usize::from(b) % 70);
        let report: Vec<u8> = data.iter().cycle().take(len).copied().collect();
        if let Some(v) = f.extract(&report) {
            let _ = f.to_value(v);
            let _ = f.from_value(f.to_value(v));
        }
        // Round trip through the buffered report.
        buffers.fill(f.report_id, &report);
        if let Some(v) = buffers.get(f) {
            buffers.set(f, v).expect("buffer holds its objects");
            let again = buffers.get(f).expect("still fits");
            if f.logical_min <= f.logical_max {
                assert!(f.logical_min <= again && again <= f.logical_max);
            }
        }
    }
});
