//! NUT's network clients in Rust, with stock NUT 2.8.0's names, flags, output, error texts
//! and exit codes, so scripts and guides written for them keep working: [`upsc`] (read
//! variables, list UPSes and clients), [`upsrw`] (list and set writable variables),
//! [`upscmd`] (list and run instant commands) and [`upslog`] (log variables in a format, to a
//! file or stdout).
//!
//! Each binary's `main` hands its `argv` to the tool's `main` here. The tools talk to upsd
//! through [`nut_client::Client`] (requests rendered by nut-proto, replies read through its
//! checks) inside a single-threaded tokio runtime; what libupsclient adds on top (the
//! `ups@host:port` syntax, trying `STARTTLS`, its error texts) is in `conn`. Options are read
//! with glibc's `getopt` rules (`nut_daemon::getopt`), prompts for a missing user name or password
//! behave like stock's (`prompt`). `docs/cli.md` lists the deliberate differences.

mod conn;
mod error;
mod prompt;
pub mod upsc;
pub mod upscmd;
pub mod upslog;
pub mod upsrw;

pub use error::{Error, Result};

use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::process::ExitCode;

/// The version in the banners, where stock prints `2.8.0`: `nut-rs <version>`.
pub const VERSION: &str = concat!("nut-rs ", env!("CARGO_PKG_VERSION"));

/// stock's `EXIT_FAILURE`.
const FAILURE: u8 = 1;

/// `xbasename(argv[0])`: what stock calls itself in usage texts.
fn prog_name(argv: &[OsString], default: &str) -> String {
    argv.first()
        .map(|a| a.to_string_lossy())
        .map(|a| a.rsplit('/').next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| default.to_owned())
}

/// What a C program does before `main`: a write to a closed pipe ends it quietly.
fn c_like_signals() {
    // SAFETY: setting a signal's disposition to the default before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Run `body` on a single-threaded runtime; its error is printed as stock's fatal message
/// and gives exit status 1.
fn run_tool<F>(body: F) -> ExitCode
where
    F: Future<Output = Result<ExitCode>>,
{
    c_like_signals();
    let code = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(body).unwrap_or_else(|e| {
            flush_stdout();
            eprintln!("{e}");
            ExitCode::from(FAILURE)
        }),
        Err(e) => {
            eprintln!("{}", Error::io("tokio runtime", e));
            ExitCode::from(FAILURE)
        }
    };
    flush_stdout();
    code
}

fn flush_stdout() {
    let _ = std::io::stdout().flush();
}
