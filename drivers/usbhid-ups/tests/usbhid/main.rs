//! The integration tests of usbhid-ups, one module per area: the HID backend on the replayed
//! BK650M2-CH against stock NUT's variables and bytes, on broken and odd devices, and the APC
//! subdriver's names and descriptor fix on nut-hid's APC fixtures.

mod apc;
mod bk650m2;
mod common;
mod robustness;
