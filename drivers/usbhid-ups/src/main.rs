//! The `usbhid-ups` binary: NUT's driver command line and start-up (nut-driver) around the HID
//! backend of this crate.

use std::process::ExitCode;

fn main() -> ExitCode {
    nut_driver::main(&usbhid_ups::DRIVER)
}
