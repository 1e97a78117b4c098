//! HID report descriptors and reports for the `usbhid-ups` driver, with NUT's semantics.
//!
//! This crate turns the bytes of a USB HID report descriptor into the list of HID objects
//! ("fields") that NUT's `usbhid-ups` sees, and converts between report bytes and values the
//! way NUT 2.8.0 does: same item decoding, same quirks (the APC `LogMax` sign hack, offsets kept
//! in 8 bits, masks derived from the logical range rather than the field size), same unit
//! exponent table. It also names usages (`UPS.PowerSummary.RemainingCapacity`) with NUT's
//! generic table, in front of which a subdriver puts its vendor usages
//! ([`UsageTable::with_vendor`]).
//!
//! There is no I/O here: transports, timing and the NUT variable mapping live in the driver.
//!
//! ```
//! let desc = nut_hid::parse(&[
//!     0x05, 0x84, 0x09, 0x04, 0xa1, 0x01, // Usage Page (Power Device), Usage (UPS), Collection
//!     0x85, 0x26, 0x09, 0x30, 0x75, 0x10, 0x95, 0x01, // Report ID 0x26, Voltage, 16 bits x 1
//!     0x15, 0x00, 0x27, 0xff, 0xff, 0x00, 0x00, // Logical 0..65535
//!     0x67, 0x21, 0xd1, 0xf0, 0x00, 0x55, 0x05, // Unit volt, exponent 5
//!     0xb1, 0xa2, 0xc0, // Feature, End Collection
//! ])
//! .unwrap();
//! let table = nut_hid::UsageTable::generic();
//! let path = table.parse_path("UPS.Voltage").unwrap();
//! let field = desc.find(&path, nut_hid::ReportKind::Feature).unwrap();
//! let raw = field.extract(&[0x26, 0x46, 0x05]).unwrap();
//! assert_eq!(raw, 1350);
//! assert!((field.to_value(raw) - 13.5).abs() < 1e-9);
//! ```

mod buffer;
mod descriptor;
mod error;
mod field;
mod tables;
mod usage;

pub use buffer::ReportBuffer;
pub use descriptor::{
    parse, Descriptor, Note, NoteKind, MAX_DESCRIPTOR_LEN, MAX_OBJECTS, MAX_PATH_DEPTH,
    MAX_USAGE_STACK,
};
pub use error::Error;
pub use field::{unit_exponent_offset, Field, ReportKind, ATTR_CONSTANT};
pub use usage::{UsagePath, UsageTable};
