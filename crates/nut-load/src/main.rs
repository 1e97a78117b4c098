//! `nut-load`: see the crate documentation ([`nut_load`]).

use std::process::ExitCode;

use clap::Parser;
use nut_load::{run, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            println!("{}", report.render(args.json));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nut-load: {e}");
            ExitCode::FAILURE
        }
    }
}
