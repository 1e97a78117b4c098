//! `nut-mode`: nut.conf's MODE for the systemd units (`nut-mode is server|monitor`, an
//! `ExecCondition=`) and the late-shutdown hook (`nut-mode get POWEROFF_WAIT`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    nut_tools::mode::main(&args)
}
