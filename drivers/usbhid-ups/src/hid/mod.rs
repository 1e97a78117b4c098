//! The USB HID Power Device backend: a [`device::Device`] (real hardware, a replayed recording
//! or a simulated unit) read through the HID report layer and a subdriver's mapping table.

pub mod apc;
pub mod backend;
pub mod convert;
pub mod device;
#[cfg(target_os = "linux")]
pub mod hidraw;
pub mod matcher;
pub mod record;
pub mod recording;
pub mod replay;
pub mod report;
pub mod sim;
pub mod status;
pub mod subdriver;
