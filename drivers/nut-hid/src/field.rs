//! One HID object and NUT's value codec: bit extraction (`GetValue`), bit insertion
//! (`SetValue`), logical <-> physical conversion and the unit exponent table.

use std::fmt;

use crate::error::Error;
use crate::usage::{UsagePath, UsageTable};

/// Main item data bit 0: the field is Constant. NUT refuses to write exactly this value.
pub const ATTR_CONSTANT: u32 = 0x01;

/// Report type, named after the main item that declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportKind {
    /// Main item 0x80.
    Input,
    /// Main item 0x90.
    Output,
    /// Main item 0xB0.
    Feature,
}

impl ReportKind {
    /// The main item tag (0x80, 0x90, 0xB0), which is also NUT's `Type` value.
    pub fn tag(self) -> u8 {
        match self {
            ReportKind::Input => 0x80,
            ReportKind::Output => 0x90,
            ReportKind::Feature => 0xB0,
        }
    }

    /// Inverse of [`ReportKind::tag`].
    pub fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0x80 => Some(ReportKind::Input),
            0x90 => Some(ReportKind::Output),
            0xB0 => Some(ReportKind::Feature),
            _ => None,
        }
    }

    /// "Input", "Output" or "Feature", as NUT prints it.
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Input => "Input",
            ReportKind::Output => "Output",
            ReportKind::Feature => "Feature",
        }
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One HID object (NUT's `HIDData_t`).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Collection usages (plus index nodes `0x00FF00nn` for vendor collection types) and the
    /// field's own usage last; a usage is `(page << 16) | id`.
    pub path: UsagePath,
    /// Report ID (0 when the descriptor declares none).
    pub report_id: u8,
    /// Input, Output or Feature.
    pub kind: ReportKind,
    /// Bit offset in the payload (after the report id byte). NUT keeps it in a `uint8_t`, so
    /// slots past bit 255 of a report wrap around to 0; reproduced, hence always 0..=255.
    pub offset: u32,
    /// Size in bits (Report Size, 0..=255).
    pub size: u32,
    /// Logical Minimum.
    pub logical_min: i64,
    /// Logical Maximum (see [`Field::assumed_logmax`]).
    pub logical_max: i64,
    /// LogMax came from NUT's sign work-around (`25 ff` read as 255 rather than -1).
    pub assumed_logmax: bool,
    /// Physical Minimum, when declared.
    pub physical_min: Option<i64>,
    /// Physical Maximum, when declared.
    pub physical_max: Option<i64>,
    /// HID unit code, e.g. 0x00F0D121 for volt.
    pub unit: u32,
    /// Unit Exponent as NUT reads it (nibbles 8..15 are -8..-1).
    pub unit_exponent: i8,
    /// Data of the main item (0x01 Constant, 0x02 Variable, 0x80 Volatile, ...). NUT keeps
    /// the low byte only; [`Field::is_constant`] looks at that byte.
    pub attributes: u32,
    /// Byte offset of the declaring main item in the descriptor (for diagnostics).
    pub item_offset: usize,
}

/// The `k` of NUT's unit table: the exponent a unit implies (volt and VA/watt: 7, others 0).
pub fn unit_exponent_offset(unit: u32) -> i8 {
    match unit {
        0x00F0_D121 | 0x0000_D121 => 7,
        _ => 0,
    }
}

/// 10^e computed like NUT (repeated multiplication by 10 or by 0.1), so results print the same.
fn pow10(e: i8) -> f64 {
    let mut r = 1.0f64;
    if e > 0 {
        for _ in 0..e {
            r *= 10.0;
        }
    } else {
        for _ in e..0 {
            r *= 1.0 / 10.0;
        }
    }
    r
}

/// Position of the highest set bit plus one (0 for 0).
fn hibit(x: u64) -> u32 {
    64 - x.leading_zeros()
}

impl Field {
    /// The field's own usage (last path node).
    pub fn usage(&self) -> u32 {
        self.path.last().unwrap_or(0)
    }

    /// NUT's write guard: the main item data (low byte) is exactly Constant.
    pub fn is_constant(&self) -> bool {
        self.attributes & 0xFF == ATTR_CONSTANT
    }

    /// Bytes a report buffer needs (id byte included) to hold this field.
    pub fn needed_len(&self) -> usize {
        if self.size == 0 {
            1
        } else {
            (8 + self.offset as usize + self.size as usize).div_ceil(8)
        }
    }

    /// The physical-range pair when NUT uses it (both present and not both zero).
    fn physical(&self) -> Option<(i64, i64)> {
        match (self.physical_min, self.physical_max) {
            (Some(0), Some(0)) => None,
            (Some(min), Some(max)) => Some((min, max)),
            _ => None,
        }
    }

    /// Exponent applied after the physical conversion: UnitExp minus the unit's implied one
    /// (computed in 8 bits, as NUT does).
    pub fn exponent(&self) -> i8 {
        self.unit_exponent
            .wrapping_sub(unit_exponent_offset(self.unit))
    }

    /// Reads the logical value from `report` (byte 0 = report id), as NUT's `GetValue`: bits
    /// LSB-first from bit `offset + 8`, masked by the logical range (not the size: a 16-bit
    /// field with LogMax 255 keeps 8 bits), sign-extended when LogMin < 0, then clamped.
    /// `None` if the report is too short for the field.
    pub fn extract(&self, report: &[u8]) -> Option<i64> {
        if report.len() < self.needed_len() {
            return None;
        }
        let first = self.offset as usize + 8;
        let mut raw = 0u64;
        // Bits above 63 cannot survive the mask (LogMin/LogMax fit in i64).
        for w in 0..(self.size as usize).min(64) {
            let bit = first + w;
            if report[bit >> 3] & (1 << (bit & 7)) != 0 {
                raw |= 1 << w;
            }
        }
        let (min, max) = (self.logical_min, self.logical_max);
        let magnitude = |v: i64| -> u64 {
            if v >= 0 {
                v as u64
            } else {
                (-(v + 1)) as u64
            }
        };
        let signbit = 1u64 << hibit(magnitude(max).max(magnitude(min)));
        let mask = (signbit - 1) | if min < 0 { signbit } else { 0 };
        let mut v = raw & mask;
        if min < 0 && v & signbit != 0 {
            v |= !mask;
        }
        let v = v as i64;
        // Not `clamp`: a descriptor may give LogMin > LogMax; NUT tests the low end first.
        Some(if v < min {
            min
        } else if v > max {
            max
        } else {
            v
        })
    }

    /// Logical -> physical (linear map when a usable physical range exists) times
    /// 10^(UnitExp - k), as NUT's `HIDGetDataValue`.
    pub fn to_value(&self, logical: i64) -> f64 {
        self.logical_to_physical(logical) * pow10(self.exponent())
    }

    /// [`Field::extract`] then [`Field::to_value`].
    pub fn value(&self, report: &[u8]) -> Option<f64> {
        self.extract(report).map(|l| self.to_value(l))
    }

    fn logical_to_physical(&self, logical: i64) -> f64 {
        let Some((pmin, pmax)) = self.physical() else {
            return logical as f64;
        };
        let (lmin, lmax) = (self.logical_min, self.logical_max);
        if pmax <= pmin || lmax <= lmin {
            return logical as f64;
        }
        let factor = (i128::from(pmax) - i128::from(pmin)) as f64
            / (i128::from(lmax) - i128::from(lmin)) as f64;
        let physical = (i128::from(logical) - i128::from(lmin)) as f64 * factor + pmin as f64;
        if physical > pmax as f64 {
            pmax as f64
        } else if physical < pmin as f64 {
            pmin as f64
        } else {
            physical
        }
    }

    /// Physical value -> logical value to write, as NUT's `HIDSetDataValue`: divide by
    /// 10^(UnitExp - k), invert the physical map (truncating toward zero, clamped to the
    /// logical range only when a physical range is used). `None` for a Constant field.
    pub fn from_value(&self, value: f64) -> Option<i64> {
        if self.is_constant() {
            return None;
        }
        let physical = value / pow10(self.exponent());
        let Some((pmin, pmax)) = self.physical() else {
            return Some(physical as i64);
        };
        let (lmin, lmax) = (self.logical_min, self.logical_max);
        if pmax <= pmin || lmax <= lmin {
            return Some(physical as i64);
        }
        let factor = (i128::from(lmax) - i128::from(lmin)) as f64
            / (i128::from(pmax) - i128::from(pmin)) as f64;
        let logical = (((physical - pmin as f64) * factor) as i64).saturating_add(lmin);
        Some(if logical > lmax {
            lmax
        } else if logical < lmin {
            lmin
        } else {
            logical
        })
    }

    /// Writes the low `size` bits of `logical` into `report` (NUT's `SetValue`); other bits
    /// are kept. Bits above 63 repeat the sign.
    pub fn insert(&self, report: &mut [u8], logical: i64) -> Result<(), Error> {
        let needed = self.needed_len();
        if report.len() < needed {
            return Err(Error::ReportTooShort {
                report_id: self.report_id,
                needed,
                len: report.len(),
            });
        }
        let first = self.offset as usize + 8;
        for w in 0..self.size as usize {
            let bit = first + w;
            let set = (logical >> w.min(63)) & 1 != 0;
            let m = 1u8 << (bit & 7);
            if set {
                report[bit >> 3] |= m;
            } else {
                report[bit >> 3] &= !m;
            }
        }
        Ok(())
    }

    /// One line `path | type | 0xid | offset | size | logmin | logmax | 0xunit | exp | 0xflags`,
    /// the layout of the fixtures' field tables (handy in debug logs).
    pub fn summary(&self, table: &UsageTable) -> String {
        format!(
            "{} | {} | 0x{:02x} | {} | {} | {} | {} | 0x{:x} | {} | 0x{:02x}",
            table.path_name(&self.path),
            self.kind,
            self.report_id,
            self.offset,
            self.size,
            self.logical_min,
            self.logical_max,
            self.unit,
            self.unit_exponent,
            self.attributes
        )
    }
}
