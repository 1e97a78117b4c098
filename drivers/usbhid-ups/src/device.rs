//! One neutral API over every way of reaching a UPS's HID reports: the kernel's hidraw node,
//! a replayed `nut-hid-recording/1` file, or a simulated unit driven by a scenario. The HID
//! backend only ever talks to this trait, so what it publishes cannot depend on the transport.

use std::time::Duration;

/// Who the device says it is (USB device descriptor and its strings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub vendor_id: u16,
    pub product_id: u16,
    pub bcd_device: Option<u16>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
    /// Bus number as NUT prints it (`001`), when known.
    pub bus: Option<String>,
    /// Device number on the bus, when known.
    pub device: Option<String>,
    /// Physical port path (`1-4`), when known.
    pub port: Option<String>,
}

/// Why a device operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The device is gone: unplugged, reset, or its node vanished. Re-open and re-match.
    #[error("device disconnected: {0}")]
    Disconnected(String),
    /// This request failed (a STALL, a timeout, an I/O error) but the device is still there:
    /// skip this report this round, as NUT does.
    #[error("request failed: {0}")]
    Failed(String),
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

    /// Wait at most `timeout` for an interrupt-IN report; `Ok(None)` when none came.
    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError>;

    /// USB string descriptor `index` (e.g. the battery chemistry named by iDeviceChemistry);
    /// `Ok(None)` when the device has no such string.
    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError>;
}
