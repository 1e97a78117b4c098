//! The usbhid-ups driver of nut-rs: NUT's USB HID Power Device driver as a [`Backend`] of the
//! nut-driver framework, which does everything else (configuration, socket, poll loop, kill
//! power, command line). This crate is what is HID:
//!
//! * [`backend`]: the HID backend ([`HidBackend`]), NUT's `usbhid-ups.c` over any [`Device`]
//!   and any `subdriver` table (NUT's `hid_info_t` rows), with `status` (`ups.status` and
//!   its options), `convert` (value conversions) and `report` (NUT's report buffers);
//! * [`apc`]: the APC subdriver, all of NUT's APC knowledge: usage names, mapping table,
//!   claim, report descriptor fix;
//! * [`device`]: the one API over every transport, and `matcher` (ups.conf device matching);
//! * [`transport`]: Linux hidraw/usbfs/sysfs, replay and simulation of recordings, record mode;
//! * [`scan`]: `nut-scanner -U`, the APC units on hidraw as ready ups.conf sections;
//! * [`OPTIONS`]: the driver's options, one table for the configuration, `-h` and `-L`;
//! * [`DRIVER`]: the description the binary hands to [`nut_driver::main`].
//!
//! [`Backend`]: nut_driver::Backend
//! [`HidBackend`]: backend::HidBackend
//! [`Device`]: device::Device

pub mod apc;
pub mod backend;
mod convert;
pub mod device;
mod error;
#[cfg(test)]
mod fixtures;
mod matcher;
mod open;
mod options;
mod report;
pub mod scan;
mod status;
mod subdriver;
pub mod transport;

use nut_driver::DriverInfo;

pub use error::Error;
pub use open::open_backend;
pub use options::OPTIONS;

/// The driver's own version, published as `driver.version.internal`.
pub const DRIVER_VERSION: &str = "0.1";

/// usbhid-ups as the framework sees it.
pub static DRIVER: DriverInfo = DriverInfo {
    program: "usbhid-ups",
    description: "Generic HID driver (nut-rs)",
    version: DRIVER_VERSION,
    options: OPTIONS,
    open: open_backend,
    prepare: Some(open::prepare),
};
