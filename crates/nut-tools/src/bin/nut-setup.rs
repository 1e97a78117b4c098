//! `nut-setup netserver [--confdir DIR] [--force] [--no-detect]`: writes the NAS-compatible
//! network UPS server configuration, with the APC unit found on USB.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ExitCode::from(nut_tools::setup::main(
        &args,
        Path::new(usbhid_ups::scan::SYSFS),
    ))
}
