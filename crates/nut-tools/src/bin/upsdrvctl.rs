//! `upsdrvctl`: start, stop and shut down the UPS drivers of ups.conf (NUT's interface:
//! `upsdrvctl [-t] [-u user] [-r dir] [-D] [-d] start|stop|shutdown [<ups>]`).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    println!(
        "Network UPS Tools - UPS driver controller {} (nut-rs)",
        env!("CARGO_PKG_VERSION")
    );
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map_or_else(|| "upsdrvctl".into(), |s| s.to_string_lossy().into_owned());
    nut_tools::drvctl::main(&prog, args.get(1..).unwrap_or_default())
}
