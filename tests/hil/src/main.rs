//! `hil-guest`: the checks `scripts/hil` runs inside its QEMU guest, where Debian's kernel
//! sees the emulated unit ([`emulator`]) as a USB device on vhci-hcd. For one recording it
//! prints `PASS <recording>: <check>` or `FAIL <recording>: <check>: <why>` per check; the
//! host counts them. It exits non-zero only when it could not run the checks at all (the
//! kernel modules, udev).
//!
//! `hil-guest [--out DIR] [--plugin] RECORDING`: with `--out`, the upsc dumps of our driver and
//! stock's go to `DIR/ours.txt` and `DIR/stock.txt`; with `--plugin`, the first plug-in and
//! migration checks ([`plugin`]) run too (`scripts/hil` asks for them with its first
//! recording). `hil-guest --idle SECONDS RECORDING` measures instead what an idle driver
//! costs, stock's and ours ([`idle`]); `--latency CUTS` how long a mains loss takes to reach
//! upsd with each ([`latency`]); given both, both are measured in the one guest.

// A panic is how a check fails: each check runs under catch_unwind.
#![allow(clippy::unwrap_used)]

mod checks;
mod emulator;
mod guest;
mod idle;
mod latency;
mod plugin;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs checks and prints their verdicts.
pub(crate) struct Runner {
    /// The recording's file name, the prefix of every line.
    name: String,
    failed: usize,
}

impl Runner {
    /// Run `check`; a panic inside is its failure, with the panic's message.
    pub(crate) fn check(&mut self, what: &str, check: impl FnOnce()) -> bool {
        let start = std::time::Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(check));
        // HIL_TIMES=1 scripts/hil: each check's time, after its verdict
        let took = || {
            if std::env::var_os("HIL_TIMES").is_some_and(|v| !v.is_empty()) {
                println!("  | took {:.1} s", start.elapsed().as_secs_f64());
            }
        };
        match result {
            Ok(()) => {
                println!("PASS {}: {what}", self.name);
                took();
                true
            }
            Err(e) => {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panicked".into());
                // one line per verdict: the details go to the log lines after it
                let first = why.lines().next().unwrap_or_default().to_string();
                println!("FAIL {}: {what}: {first}", self.name);
                for l in why.lines().skip(1).take(60) {
                    println!("  | {l}");
                }
                took();
                self.failed += 1;
                false
            }
        }
    }
}

fn main() -> ExitCode {
    // panics are reported by Runner::check, not on stderr as well
    std::panic::set_hook(Box::new(|_| {}));
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let mut recording: Option<PathBuf> = None;
    let mut plugin = false;
    let mut idle: Option<u64> = None;
    let mut cuts: Option<u32> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--idle" => match args.next().and_then(|s| s.parse().ok()) {
                Some(n) => idle = Some(n),
                None => {
                    eprintln!("hil-guest: --idle takes a number of seconds");
                    return ExitCode::FAILURE;
                }
            },
            "--latency" => match args.next().and_then(|s| s.parse().ok()) {
                Some(n) if n > 0 => cuts = Some(n),
                _ => {
                    eprintln!("hil-guest: --latency takes a number of cuts (1 or more)");
                    return ExitCode::FAILURE;
                }
            },
            "--out" => out = args.next().map(PathBuf::from),
            "--plugin" => plugin = true,
            _ => recording = Some(PathBuf::from(a)),
        }
    }
    let Some(recording) = recording else {
        eprintln!(
            "usage: hil-guest [--out DIR] [--plugin | --idle SECONDS | --latency CUTS] RECORDING"
        );
        return ExitCode::FAILURE;
    };
    if let Err(e) = guest::prepare() {
        println!("HIL-FATAL: {e}");
        return ExitCode::FAILURE;
    }
    let name = recording
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut runner = Runner { name, failed: 0 };
    if let Some(seconds) = idle {
        idle::run(&mut runner, &recording, seconds);
    }
    if let Some(cuts) = cuts {
        latency::run(&mut runner, &recording, cuts);
    }
    if idle.is_none() && cuts.is_none() {
        checks::run(&mut runner, &recording, out.as_deref(), plugin);
    }
    eprintln!("hil-guest: {} failed", runner.failed);
    ExitCode::SUCCESS
}
