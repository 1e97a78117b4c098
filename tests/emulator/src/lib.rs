//! `ups-emulator`: an APC unit (any `nut-hid-recording/1`) served as a full-speed USB HID
//! device over USB/IP, so that Linux's vhci-hcd enumerates it like a unit on a cable (usbhid,
//! `/dev/hidrawN`, usbfs, sysfs) and both our usbhid-ups and stock NUT's can be tested on a real
//! kernel. The unit itself is [`nut_hid_sim::Unit`], the model the driver's `recording =` mode
//! uses: same reports, scenario, SET_REPORT log and power model.
//!
//! * [`usbip`]: the wire protocol (pure codec);
//! * [`descriptors`] and [`requests`]: the device as the unit presents itself, and its control
//!   pipe;
//! * [`server`]: the USB/IP server over any stream: control requests, interrupt-IN URBs held
//!   until the unit has a report, unlinks, faults, the byte log;
//! * [`faults`]: the control commands and the transfer faults they set; [`ctl`]: the control
//!   socket;
//! * [`vhci`]: attaching to and detaching from vhci-hcd through sysfs, and the attach loop
//!   (unplug, replug);
//! * [`check`]: the recordings it refuses, before anything is attached.
//!
//! The command line, the control commands and the log formats are in `docs/emulator.md`.

pub mod check;
pub mod ctl;
pub mod descriptors;
pub mod faults;
pub mod requests;
pub mod server;
pub mod usbip;
pub mod vhci;

use std::io;
use std::path::PathBuf;

/// Everything that stops the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A USB/IP header with a command the host never sends.
    #[error("unknown USB/IP command {0:#x}")]
    UnknownCommand(u32),
    /// A direction that is neither 0 nor 1.
    #[error("bad USB/IP direction {0}")]
    BadDirection(u32),
    /// More OUT data than [`usbip::MAX_OUT`].
    #[error("OUT transfer of {0} bytes refused (more than {max})", max = usbip::MAX_OUT)]
    TooLong(u32),
    /// The USB/IP stream failed (or ended inside a message).
    #[error("USB/IP connection: {0}")]
    Connection(#[from] io::Error),
    /// The host closed the USB/IP connection (the kernel dropped the device).
    #[error("the USB/IP connection was closed by the host")]
    Closed,
    /// A recording the emulator cannot serve.
    #[error("{file}: cannot serve: {reason}")]
    Refused {
        /// The recording.
        file: String,
        /// Why.
        reason: String,
    },
    /// A sysfs file of vhci-hcd could not be read or written.
    #[error("{}: {source}", path.display())]
    Sysfs {
        /// The file.
        path: PathBuf,
        /// What the kernel said.
        source: io::Error,
    },
    /// No vhci-hcd controller.
    #[error("no vhci_hcd controller under {} (is the vhci-hcd module loaded?)", .0.display())]
    NoVhci(PathBuf),
    /// Every USB 2.0 port of vhci-hcd is taken.
    #[error("no free USB 2.0 port on {}", .0.display())]
    NoFreePort(PathBuf),
    /// A file given on the command line (log, control socket) could not be used.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What it is for (`--log`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The control socket answered an error.
    #[error("{0}")]
    Control(String),
}
