//! The ways of reaching a UPS's HID reports, each a [`crate::device::Device`]: real hardware
//! (`linux`: hidraw, usbfs, sysfs discovery), a replayed `nut-hid-recording/1` file
//! ([`replay`]), a simulated unit driven by the recording's scenario ([`sim`]), and record
//! mode, which writes any of them down as a recording ([`record`]).

#[cfg(target_os = "linux")]
pub(crate) mod linux;
pub mod record;
pub mod replay;
pub mod sim;
