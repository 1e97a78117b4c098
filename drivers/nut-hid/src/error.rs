//! Typed errors of this crate. Every descriptor error names the byte offset of the item at fault.

use thiserror::Error;

/// Why a report descriptor was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DescriptorError {
    /// Larger than NUT's descriptor buffer; a real transport never hands more.
    #[error("report descriptor is {len} bytes, more than the {max} accepted")]
    TooLarge { len: usize, max: usize },
    /// An item's data (or a long item's payload) runs past the end of the descriptor.
    #[error("item at byte {offset} needs {needed} bytes but only {available} remain")]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A collection or field would make a usage path longer than NUT can store.
    #[error("item at byte {offset} (report id 0x{report_id:02x}) nests deeper than {max} usages")]
    PathTooDeep {
        offset: usize,
        report_id: u8,
        max: usize,
    },
    /// More distinct (report id, type) pairs than NUT's offset table holds.
    #[error("item at byte {offset} (report id 0x{report_id:02x}) exceeds {max} distinct reports")]
    TooManyReports {
        offset: usize,
        report_id: u8,
        max: usize,
    },
    /// The descriptor declares no HID object (NUT refuses such a device).
    #[error("report descriptor declares no HID object")]
    NoObjects,
}

/// Why a textual usage path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// A component is neither a known name, 8 hex digits (or fewer), nor `[n]`.
    #[error("unknown usage {token:?} in path {path:?}")]
    UnknownUsage { path: String, token: String },
    /// More components than a HID path can hold.
    #[error("path {path:?} has more than {max} components")]
    TooDeep { path: String, max: usize },
}

/// A report buffer too short to hold a field that is being written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("report 0x{report_id:02x} needs {needed} bytes for this field, buffer has {len}")]
pub struct ReportTooShort {
    pub report_id: u8,
    pub needed: usize,
    pub len: usize,
}
