//! `nut-driver-generator`: the systemd generator that wants one `nut-driver@<ups>.service`
//! per ups.conf section from `nut-driver.target`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    nut_tools::generator::main(&args)
}
