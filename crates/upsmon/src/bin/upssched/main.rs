//! The `upssched` binary: NUT 2.8.0's upsmon timer helper, run as upsmon's NOTIFYCMD with
//! `UPSNAME` and `NOTIFYTYPE` set; it takes no options (the message argument is ignored, as
//! in stock). Everything is in [`upsmon::upssched::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(upsmon::upssched::run())
}
