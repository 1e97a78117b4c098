//! `upsrw`: the command line is NUT 2.8.0's; everything is in [`nut_cli::upsrw`].

use std::process::ExitCode;

fn main() -> ExitCode {
    nut_cli::upsrw::main(std::env::args_os().collect())
}
