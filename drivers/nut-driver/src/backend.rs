//! What a device backend provides to the driver core.
//!
//! The core owns the variable tree and the driver socket; a backend only reads and writes the
//! device and publishes what it finds into the [`Tree`] it is handed. Every call that gets the
//! tree may change it freely: the core compares the tree before and after the call and
//! broadcasts the difference to the socket clients, so a backend never formats a protocol line.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nut_state::Tree;

use crate::config::DriverConfig;

/// Why a backend call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The device is gone (unplugged, USB reset, file removed). The core marks the data stale
    /// (`DATASTALE`), then calls [`Backend::reconnect`] with a growing delay (1 s, 2 s, 4 s ...
    /// up to 30 s) until it succeeds, and sends `DATAOK` after the next good update.
    #[error("device disconnected: {0}")]
    Disconnected(String),
    /// The device is there but did not answer usefully this time. The core marks the data
    /// stale and simply tries again at the next poll.
    #[error("no valid data from the device: {0}")]
    Stale(String),
    /// Nothing will get better by retrying (bad configuration, unsupported device). At start-up
    /// this stops the driver; later it is treated like [`BackendError::Disconnected`].
    #[error("{0}")]
    Fatal(String),
}

/// Result of an instant command or a variable write, as carried by `TRACKING <id> <n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdResult {
    /// Done (0).
    Handled,
    /// The command or variable is not known to this device (1).
    Unknown,
    /// Known, but the parameter or value is not acceptable (2).
    Invalid,
    /// The device refused or the write failed (3).
    Failed,
    /// The value could not be converted for the device (4; a 2.8.0 upsd shows it as
    /// `ERR UNKNOWN`).
    ConversionFailed,
}

impl CmdResult {
    /// The integer sent in `TRACKING <id> <n>` (`STAT_INSTCMD_*` / `STAT_SET_*` in NUT).
    pub fn code(self) -> i32 {
        match self {
            CmdResult::Handled => 0,
            CmdResult::Unknown => 1,
            CmdResult::Invalid => 2,
            CmdResult::Failed => 3,
            CmdResult::ConversionFailed => 4,
        }
    }
}

/// A device as the driver core sees it. All methods are called from the driver's one main
/// thread; none may block much longer than the time it is given (a few hundred milliseconds for
/// a device round trip is fine), because socket requests wait meanwhile. `init` runs before the
/// driver forks into the background, so it must not start threads (start them lazily in the
/// first `update` if needed).
pub trait Backend {
    /// Open the device and publish the initial variables, their flags/enums/ranges and the
    /// instant commands. Called once, before the first [`Backend::update`]. An error stops the
    /// driver (as when stock NUT finds no matching device).
    fn init(&mut self, tree: &mut Tree, cfg: &DriverConfig) -> Result<(), BackendError>;

    /// One poll cycle: read the device and update the tree. `now` is the time of the poll (so a
    /// backend can do its slower full walk every `pollfreq` seconds).
    fn update(&mut self, tree: &mut Tree, now: Instant) -> Result<(), BackendError>;

    /// Try to get the device back after [`BackendError::Disconnected`] (re-open and re-match the
    /// same unit). The default has nothing to reopen.
    fn reconnect(&mut self, _tree: &mut Tree) -> Result<(), BackendError> {
        Ok(())
    }

    /// Whether this backend has asynchronous device events ([`Backend::wait_event`]). When it
    /// has none, the core just sleeps on the socket between polls.
    fn has_events(&self) -> bool {
        false
    }

    /// The file descriptor that becomes readable when a device event waits (for usbhid-ups the
    /// hidraw node), if the backend has one. The core then polls it together with the socket
    /// and calls [`Backend::wait_event`] with a zero timeout only when it is ready (or hung
    /// up), so an idle driver sleeps until the next poll instead of waking every
    /// [`EVENT_SLICE`]. `None` (the default) keeps the sliced waits.
    fn event_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Wait at most `timeout` for a device event (an interrupt report) and apply it to the tree.
    /// Returns whether something was received. The core calls this between polls with slices of
    /// at most [`EVENT_SLICE`], serving socket requests between calls, so a status change
    /// reaches clients as soon as the call returns.
    fn wait_event(&mut self, _tree: &mut Tree, timeout: Duration) -> Result<bool, BackendError> {
        std::thread::sleep(timeout);
        Ok(false)
    }

    /// Run an instant command (`INSTCMD <cmd> [<param>]`). The core's own `driver.*` and
    /// `shutdown.default` commands never get here.
    fn instcmd(&mut self, tree: &mut Tree, cmd: &str, param: Option<&str>) -> CmdResult;

    /// Write a variable (`SET <var> <value>`); on success the backend updates the tree itself.
    /// The core's own `driver.*` variables never get here.
    fn setvar(&mut self, tree: &mut Tree, var: &str, value: &str) -> CmdResult;

    /// Kill the power: the device's default shutdown sequence (for usbhid-ups: `shutdown.return`,
    /// else `shutdown.reboot`, else `load.off.delay`). Used by `-k`, `driver.killpower` and
    /// `shutdown.default`.
    fn shutdown(&mut self, tree: &mut Tree) -> Result<(), BackendError>;
}

/// The longest single [`Backend::wait_event`] call the core makes for a backend without
/// [`Backend::event_fd`].
pub const EVENT_SLICE: Duration = Duration::from_millis(100);
