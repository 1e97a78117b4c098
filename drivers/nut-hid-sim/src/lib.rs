//! A simulated USB HID UPS, built from a `nut-hid-recording/1` file: the one unit model that the
//! usbhid-ups driver's `recording =` mode and the USB/IP unit emulator (`ups-emulator`) share.
//!
//! * [`Replay`]: the recording as a report store: descriptor, strings, the Feature and Input
//!   report contents (GET_REPORT answers: exactly as recorded, an absent id stalls), SET_REPORT
//!   stored and logged (`SET_REPORT 0x15 15 3c 00`), the `[[interrupt]]` reports on a clock;
//! * [`Unit`]: a [`Replay`] that lives: the `[[event]]` scenario applied on the clock, fault
//!   injection ([`Fault`]), a mains switch ([`State::set_mains`]: the scenario's power-failure
//!   events, thrown now), and the APC output and power model ([`power`]): the delay fields
//!   count down once written, the output goes off at 0, the unit drops off the bus when it has
//!   neither mains nor output and comes back with mains;
//! * [`Clock`]: wall time ([`SystemClock`]) or a test's [`ManualClock`].
//!
//! # The unit's log
//! With a log file ([`State::log_to`], the driver's `simlog =`, the emulator's `--simlog`), the
//! unit appends one line per event, flushed at once:
//!
//! | line | when |
//! |---|---|
//! | `SET_REPORT 0x15 15 14 00` | a SET_REPORT(Feature): the id, then every byte written |
//! | `SET_REPORT Output 0x90 90 01` | a SET_REPORT(Output) (only units that declare Output reports) |
//! | `OUTPUT OFF` | a shutdown or reboot delay ran out: the load is off |
//! | `OUTPUT ON` | the load is powered again |
//! | `UNPLUG` | the unit left the bus (no mains and no output, or an injected unplug) |
//! | `REPLUG` | the unit is back on the bus |
//!
//! There is no I/O here but that log: the driver adapts a [`Unit`] to its `Device` trait, the
//! emulator serves it over USB/IP.

mod clock;
pub mod power;
mod replay;
mod scenario;
mod unit;

pub use clock::{Clock, ManualClock, SystemClock};
pub use replay::Replay;
pub use scenario::Fault;
pub use unit::{State, Unit};

use nut_hid::ReportKind;

/// Why a unit could not be built, or why it refused a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The report descriptor does not parse.
    #[error("report descriptor: {0}")]
    Descriptor(#[from] nut_hid::Error),
    /// A scenario event sets a path that names no Feature or Input field.
    #[error("{origin}:{line}: event sets {path:?}: {reason}")]
    EventPath {
        /// The recording.
        origin: String,
        /// The line of the `[[event]]`.
        line: usize,
        /// The path.
        path: String,
        /// Why it names no field.
        reason: String,
    },
    /// GET_REPORT of an id the unit has no answer for: a real unit stalls.
    #[error("GET_REPORT {}0x{id:02x}: not in the recording (stall)", kind_prefix(*.kind))]
    NoReport {
        /// Feature or Input.
        kind: ReportKind,
        /// The report id.
        id: u8,
    },
    /// GET_REPORT asking for no byte at all.
    #[error("GET_REPORT 0x{id:02x} asked for 0 bytes")]
    ZeroLength {
        /// The report id.
        id: u8,
    },
    /// SET_REPORT without even a report id.
    #[error("empty SET_REPORT")]
    EmptyReport,
    /// SET_REPORT of an Input report.
    #[error("SET_REPORT {kind} 0x{id:02x}: the unit declares no such report")]
    NotWritable {
        /// The report kind.
        kind: ReportKind,
        /// The report id.
        id: u8,
    },
    /// A GET_REPORT failed on purpose ([`Fault::FailReads`]).
    #[error("GET_REPORT 0x{id:02x}: injected failure")]
    Injected {
        /// The report id.
        id: u8,
    },
    /// A mains cut asked of a unit that reports no mains (no `ACPresent` field in
    /// `UPS.PowerSummary`).
    #[error("the unit reports no mains (no UPS.PowerSummary.ACPresent or UPS.PowerSummary.PresentStatus.ACPresent field)")]
    NoMains,
    /// The unit is not on the bus (unplugged, or powered off).
    #[error("simulated unit unplugged")]
    Gone,
}

/// `Input ` for Input reports, nothing for Feature ones (the driver's messages name only
/// Feature reports, which is what it reads).
fn kind_prefix(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Feature => "",
        ReportKind::Input => "Input ",
        ReportKind::Output => "Output ",
    }
}

#[cfg(test)]
mod tests;
