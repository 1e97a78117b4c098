//! The `nut-hid-recording/1` format (shared spec `recording.md`): a USB HID UPS written down as
//! TOML (USB ids, string descriptors, report descriptor, GET_REPORT answers, interrupt reports,
//! and an optional `[[event]]` scenario for the simulator).
//!
//! [`Recording::parse`] is strict and free of I/O: an unknown key, a malformed id or hex string,
//! a wrong format string, all give a [`RecordingError`] naming the origin, the line and the key,
//! because a half-read recording would make the driver publish wrong variables.
//! [`Recording::to_toml`] writes the same format back (used by record mode).
//!
//! The crate is pure, text in and text out: the usbhid-ups driver replays, simulates and
//! records devices with it; the fuzz targets and the end-to-end tests read recordings with it
//! alone.
//!
//! # Extension: fault events
//! Besides `set` / `interrupt`, an `[[event]]` may carry `fault` (this is an extension of
//! nut-rs, not in the shared format; only the simulator acts on it):
//!
//! ```toml
//! [[event]]
//! at_s = 3.0
//! fault = "vanish"      # the unit disappears (every request: "disconnected") ...
//! duration_s = 2.0      # ... for 2 s; without duration_s until a "come_back" event
//!
//! [[event]]
//! at_s = 10.0
//! fault = "fail_reads"  # the next `count` GET_REPORTs fail like a STALL
//! count = 3
//!
//! [[event]]
//! at_s = 20.0
//! fault = "come_back"   # ends a vanish early
//! ```

mod hex;
mod parse;
mod write;

use std::collections::BTreeMap;

pub use hex::{hex_string, parse_hex};

/// The only format string accepted.
pub const FORMAT: &str = "nut-hid-recording/1";

/// A whole recording.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recording {
    /// USB identity and location.
    pub usb: Usb,
    /// USB string descriptors by index (1..=255).
    pub strings: BTreeMap<u8, String>,
    /// The HID report descriptor.
    pub descriptor: Vec<u8>,
    /// GET_REPORT(Feature, id) answers, id byte included; may be shorter than declared.
    pub feature: BTreeMap<u8, Vec<u8>>,
    /// GET_REPORT(Input, id) answers, id byte included.
    pub input: BTreeMap<u8, Vec<u8>>,
    /// Interrupt-IN reports, in order.
    pub interrupts: Vec<Interrupt>,
    /// The simulation scenario.
    pub events: Vec<Event>,
}

/// The `[usb]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usb {
    /// `idVendor`.
    pub vendor_id: u16,
    /// `idProduct`.
    pub product_id: u16,
    /// `bcdDevice`, when recorded.
    pub bcd_device: Option<u16>,
    /// Bus number as NUT prints it (`001`), when recorded.
    pub bus: Option<String>,
    /// Physical port path (`1-4`), when recorded.
    pub port: Option<String>,
    /// `[usb.indices]`: which string index the device descriptor names.
    pub indices: Indices,
}

/// `[usb.indices]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Indices {
    /// `iManufacturer`.
    pub manufacturer: Option<u8>,
    /// `iProduct`.
    pub product: Option<u8>,
    /// `iSerialNumber`.
    pub serial: Option<u8>,
}

/// One `[[interrupt]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupt {
    /// Delay after the previous interrupt (or after the start), in milliseconds.
    pub after_ms: u64,
    /// The report, id byte first.
    pub report: Vec<u8>,
}

impl Interrupt {
    /// The entry as [`Recording::to_toml`] writes it: a blank line, then a whole
    /// `[[interrupt]]` table. Record mode appends these to a written recording.
    pub fn to_toml(&self) -> String {
        format!(
            "\n[[interrupt]]\nafter_ms = {}\nhex = \"{}\"\n",
            self.after_ms,
            hex_string(&self.report)
        )
    }
}

/// One `[[event]]` of the scenario.
#[derive(Debug, Clone)]
pub struct Event {
    /// Seconds after the start.
    pub at_s: f64,
    /// Usage path -> logical value, in file order.
    pub set: Vec<(String, i64)>,
    /// Also send the changed Input reports on the interrupt pipe.
    pub interrupt: bool,
    /// nut-rs extension: a fault to inject at `at_s`.
    pub fault: Option<FaultSpec>,
    /// Line of the `[[event]]` header, for diagnostics (not compared by `==`).
    pub line: usize,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.at_s == other.at_s
            && self.set == other.set
            && self.interrupt == other.interrupt
            && self.fault == other.fault
    }
}

/// The `fault` extension of an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultSpec {
    /// `fault = "vanish"`.
    Vanish {
        /// How long the unit stays away (`None`: until `come_back`).
        duration_s: Option<f64>,
    },
    /// `fault = "fail_reads"`.
    FailReads {
        /// How many GET_REPORTs fail.
        count: u32,
    },
    /// `fault = "come_back"`.
    ComeBack,
}

/// What is wrong, without the position ([`RecordingError`] adds it). In every variant, `key`
/// is the dotted TOML key at fault (`feature.0x0c`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are the message's words: `key`, the value, the reason
pub enum ErrorKind {
    /// The text is not TOML (the parser's message).
    #[error("not TOML: {0}")]
    Toml(String),
    /// A key the format does not have (a typo must not go unnoticed).
    #[error("unknown key `{key}`")]
    UnknownKey { key: String },
    /// A required key is absent.
    #[error("missing key `{key}`")]
    Missing { key: String },
    /// A value of the wrong TOML type.
    #[error("`{key}` must be {expected}")]
    WrongType { key: String, expected: &'static str },
    /// Another format string.
    #[error("format is {found:?}, only \"nut-hid-recording/1\" is understood")]
    Format { found: String },
    /// Hex bytes that do not parse.
    #[error("`{key}`: bad hex ({reason})")]
    BadHex { key: String, reason: String },
    /// A report id not written `0xNN`.
    #[error("`{key}` is not a report id written 0xNN")]
    BadId { key: String },
    /// A USB id that is not 4 hex digits.
    #[error("`{key}` = {value:?} is not 4 hex digits")]
    BadUsbId { key: String, value: String },
    /// A string index outside 1..=255.
    #[error("`{key}` is not a string index 1..=255")]
    BadStringIndex { key: String },
    /// An answer whose first byte is not its report id.
    #[error("`{key}`: the answer starts with 0x{first:02x}, not its report id")]
    IdMismatch { key: String, first: u8 },
    /// A value out of its range, or a key that does not go with the others.
    #[error("`{key}`: {reason}")]
    BadValue { key: String, reason: String },
    /// Two keys naming the same report id or string index (`0x0c` and `0x0C`, `5` and `05`).
    #[error("`{key}` repeats an id or index given before")]
    Duplicate { key: String },
}

/// A recording that cannot be used: where (`origin:line`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {kind}")]
pub struct RecordingError {
    /// What the text came from (a file name), as given to [`Recording::parse`].
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}
