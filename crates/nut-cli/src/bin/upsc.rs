//! `upsc`: the command line is NUT 2.8.0's; everything is in [`nut_cli::upsc`].

use std::process::ExitCode;

fn main() -> ExitCode {
    nut_cli::upsc::main(std::env::args_os().collect())
}
