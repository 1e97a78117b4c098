//! The one error type of the crate: what stops the driver from opening, simulating or
//! recording a device.

use std::path::PathBuf;

use nut_hid_recording::RecordingError;

use crate::device::DeviceError;

/// Why a device could not be opened, simulated or recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A device request failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The report descriptor does not parse.
    #[error("report descriptor: {0}")]
    Descriptor(#[from] nut_hid::Error),
    /// The recording does not parse.
    #[error(transparent)]
    Recording(#[from] RecordingError),
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done (`reading recording`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A matching option is not a valid regular expression.
    #[error("{option} = {pattern:?} is not a valid regular expression: {reason}")]
    BadPattern {
        /// The option (`vendor`).
        option: &'static str,
        /// Its value.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// The recording cannot be simulated (its descriptor, or a scenario event whose path names
    /// no field).
    #[error(transparent)]
    Simulation(#[from] nut_hid_sim::Error),
    /// The recording is not a unit the ups.conf matching options accept.
    #[error("No matching HID UPS found ({file}: {option} does not match)")]
    NoMatch {
        /// The recording.
        file: String,
        /// The first option that rejects it.
        option: &'static str,
    },
    /// No USB transport on this system.
    #[error("no USB transport on this system: use recording = <file> or backend = static:<file>")]
    NoTransport,
}

impl Error {
    /// An I/O error of `what` on `path`.
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
