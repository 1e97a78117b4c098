//! The integration tests of usbhid-ups, one module per area: the HID backend on the replayed
//! BK650M2-CH against stock NUT's variables and bytes, on the synthesized Smart-UPS X 750 (and
//! that recording's generator), on broken and odd devices, and the APC subdriver's names and
//! descriptor fix on nut-hid's APC fixtures. Stock NUT's dump of the BK650M2-CH and the
//! comparison with it are `nut_test_support::stock_dump`, which the end-to-end replay test
//! shares.

mod apc;
mod bk650m2;
mod common;
mod robustness;
mod smart_ups_x750;
mod smart_ups_x750_recording;
