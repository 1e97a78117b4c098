//! The one error type of this crate. Every descriptor error names the byte offset of the item
//! at fault.

use thiserror::Error as ThisError;

/// Why a report descriptor was rejected, a usage path could not be parsed, or a value could not
/// be written into a report.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// Larger than NUT's descriptor buffer; a real transport never hands more.
    #[error("report descriptor is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Length of the descriptor.
        len: usize,
        /// [`crate::MAX_DESCRIPTOR_LEN`].
        max: usize,
    },
    /// An item's data (or a long item's payload) runs past the end of the descriptor.
    #[error("item at byte {offset} needs {needed} bytes but only {available} remain")]
    Truncated {
        /// Byte offset of the item.
        offset: usize,
        /// Bytes the item needs.
        needed: usize,
        /// Bytes left in the descriptor.
        available: usize,
    },
    /// A collection or field would make a usage path longer than NUT can store.
    #[error("item at byte {offset} (report id 0x{report_id:02x}) nests deeper than {max} usages")]
    PathTooDeep {
        /// Byte offset of the item.
        offset: usize,
        /// Report ID in effect.
        report_id: u8,
        /// [`crate::MAX_PATH_DEPTH`].
        max: usize,
    },
    /// More distinct (report id, type) pairs than NUT's offset table holds.
    #[error("item at byte {offset} (report id 0x{report_id:02x}) exceeds {max} distinct reports")]
    TooManyReports {
        /// Byte offset of the item.
        offset: usize,
        /// Report ID in effect.
        report_id: u8,
        /// Slots of NUT's table.
        max: usize,
    },
    /// The descriptor declares no HID object (NUT refuses such a device).
    #[error("report descriptor declares no HID object")]
    NoObjects,
    /// A path component is neither a known name, 8 hex digits (or fewer), nor `[n]`.
    #[error("unknown usage {token:?} in path {path:?}")]
    UnknownUsage {
        /// The whole path.
        path: String,
        /// The component at fault.
        token: String,
    },
    /// A path with more components than a HID path can hold.
    #[error("path {path:?} has more than {max} components")]
    TooDeep {
        /// The whole path.
        path: String,
        /// [`crate::MAX_PATH_DEPTH`].
        max: usize,
    },
    /// A report buffer too short to hold a field that is being written.
    #[error("report 0x{report_id:02x} needs {needed} bytes for this field, buffer has {len}")]
    ReportTooShort {
        /// The report.
        report_id: u8,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes the buffer has.
        len: usize,
    },
}
