//! The usbhid-ups driver of nut-rs, and the driver core every NUT-style driver shares:
//!
//! * [`config`]: the ups.conf section and `-x` arguments, checked and published as
//!   `driver.parameter.*` / `driver.flag.*`, with `default.*` and `override.*`;
//! * [`backend`]: the [`Backend`] trait a device implementation provides;
//! * [`core`]: the driver state and the driver-socket protocol as a pure state machine;
//! * [`diff`]: the broadcast lines for a change of the tree;
//! * [`server`]: the socket, the poll loop, stale/reconnect handling, signals;
//! * [`query`]: one-shot socket client used by `-k` and `-c`;
//! * [`static_dev`]: a device-less backend serving a `.dev` file (`backend = static:<file>`);
//! * [`hid`]: the USB HID Power Device backend and its transports.

pub mod backend;
pub mod config;
pub mod core;
pub mod diff;
pub mod hid;
pub mod query;
pub mod server;
pub mod static_dev;

pub use backend::{Backend, BackendError, CmdResult};
pub use config::DriverConfig;
pub use core::Core;

/// Our release, published as `driver.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The driver's own version, published as `driver.version.internal`.
pub const DRIVER_VERSION: &str = "0.1";
