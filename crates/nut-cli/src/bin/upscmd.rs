//! `upscmd`: the command line is NUT 2.8.0's; everything is in [`nut_cli::upscmd`].

use std::process::ExitCode;

fn main() -> ExitCode {
    nut_cli::upscmd::main(std::env::args_os().collect())
}
