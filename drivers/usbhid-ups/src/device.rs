//! One neutral API over every way of reaching a UPS's HID reports: the kernel's hidraw node,
//! a replayed `nut-hid-recording/1` file, or a simulated unit driven by a scenario. The HID
//! backend only ever talks to this trait, so what it publishes cannot depend on the transport.

use std::os::fd::BorrowedFd;
use std::time::Duration;

/// Who the device says it is (USB device descriptor and its strings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `idVendor`.
    pub vendor_id: u16,
    /// `idProduct`.
    pub product_id: u16,
    /// `bcdDevice`, when known.
    pub bcd_device: Option<u16>,
    /// The manufacturer string.
    pub manufacturer: Option<String>,
    /// The product string.
    pub product: Option<String>,
    /// The serial number string.
    pub serial: Option<String>,
    /// Bus number as NUT prints it (`001`), when known.
    pub bus: Option<String>,
    /// Device number on the bus, when known.
    pub device: Option<String>,
    /// Physical port path (`1-4`), when known.
    pub port: Option<String>,
}

/// Why a device operation failed. What the backend does depends on [`DeviceError::is_gone`]:
/// re-open the device, or skip this request this round.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The device is gone: unplugged, reset, or its node vanished. Re-open and re-match.
    #[error("device disconnected: {0}")]
    Disconnected(String),
    /// The unit is there but cannot be used now (another program holds it, its interface has
    /// no driver, its node may not be opened); the text names it and says what to do. Retried
    /// like a disconnection, and a driver that starts so serves stale data until it can.
    #[error("device unavailable: {0}")]
    Unavailable(String),
    /// This request failed (a STALL, a timeout, an I/O error) but the device is still there:
    /// skip this report this round, as NUT does.
    #[error("request failed: {0}")]
    Failed(String),
    /// A system call on the device failed; the OS error is kept. The transport decides
    /// whether it means the device is gone (on Linux: ENODEV, ENOENT, EIO, ESHUTDOWN, ENXIO).
    #[error("{}{call}: {errno}", if *.gone { "device disconnected: " } else { "request failed: " })]
    Os {
        /// What was asked (`GET_REPORT 0x0c`, `open /dev/hidraw0`).
        call: String,
        /// What the system said.
        #[source]
        errno: nix::errno::Errno,
        /// Whether the device is gone.
        gone: bool,
    },
}

impl DeviceError {
    /// Whether the device is gone (re-open it) rather than this one request failed.
    pub fn is_gone(&self) -> bool {
        match self {
            DeviceError::Disconnected(_) | DeviceError::Unavailable(_) => true,
            DeviceError::Failed(_) => false,
            DeviceError::Os { gone, .. } => *gone,
        }
    }

    /// What happened, without the "device disconnected" / "request failed" in front.
    pub fn detail(&self) -> String {
        match self {
            DeviceError::Disconnected(s) | DeviceError::Unavailable(s) | DeviceError::Failed(s) => {
                s.clone()
            }
            DeviceError::Os { call, errno, .. } => format!("{call}: {errno}"),
        }
    }
}

/// A HID UPS. Report buffers always start with the report id byte.
pub trait Device {
    /// Vendor, product, strings and location, for matching and `ups.*`/`device.*` variables.
    fn identity(&self) -> &Identity;

    /// The HID report descriptor.
    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError>;

    /// GET_REPORT(Feature, `id`) asking for up to `len` bytes (id byte included). The answer
    /// may be shorter than asked: callers copy it over their buffer, as NUT does.
    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError>;

    /// SET_REPORT(Feature) with the whole report (`report[0]` is the id).
    fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError>;

    /// The fd that is readable while an interrupt-IN report waits (a hidraw node), for the
    /// driver's poll loop to wait on; `None` when there is none (the reports then come from
    /// [`Device::read_interrupt`] with a timeout).
    fn event_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Wait at most `timeout` for an interrupt-IN report; `Ok(None)` when none came.
    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError>;

    /// USB string descriptor `index` (e.g. the battery chemistry named by iDeviceChemistry);
    /// `Ok(None)` when the device has no such string.
    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError>;
}
