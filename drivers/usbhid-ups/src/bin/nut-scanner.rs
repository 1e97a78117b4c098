//! `nut-scanner`: stock's device scanner for what nut-rs can drive: `-U` lists the APC units
//! on Linux hidraw as ready ups.conf sections (`-P`: parsable lines).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = usbhid_ups::scan::main(
        &args,
        Path::new(usbhid_ups::scan::SYSFS),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(code)
}
