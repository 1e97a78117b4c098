//! What the integration tests of nut-hid share.

use nut_hid::{Field, ReportKind, UsagePath};

/// A Feature field of report `report_id` (UPS.PowerSummary-like usage path), `size` bits at
/// bit `offset`, logical range `min..=max`, no physical range or unit.
pub(crate) fn field(report_id: u8, size: u32, offset: u32, min: i64, max: i64) -> Field {
    Field {
        path: UsagePath(vec![0x0084_0004, 0x0084_0030]),
        report_id,
        kind: ReportKind::Feature,
        offset,
        size,
        logical_min: min,
        logical_max: max,
        assumed_logmax: false,
        physical_min: None,
        physical_max: None,
        unit: 0,
        unit_exponent: 0,
        attributes: 0x02,
        item_offset: 0,
    }
}
