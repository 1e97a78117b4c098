//! `hil-guest --idle SECONDS`: what an idle driver costs on the real kernel, stock's
//! usbhid-ups 2.8.0 and ours one after the other on a fresh emulated unit each, at default
//! polling behind our upsd. For each, after its first full read, over `SECONDS`: the CPU time
//! it used (`/proc/<pid>/schedstat`), its peak resident set (`VmHWM`), and the USB control
//! requests and interrupt-IN transfers the unit received (its request log). One line each:
//!
//! `IDLE <stock|ours> seconds=<n> cpu_ms=<n> vmhwm_kb=<n> control=<n> interrupt=<n>`

use std::path::Path;
use std::time::Duration;

use nut_test_support::stock_nut;

use crate::checks::{vendor_of, Setup, Which};
use crate::emulator::Emulator;
use crate::Runner;

/// Time the driver gets after upsd serves fresh data, so its start-up is not measured.
const SETTLE: Duration = Duration::from_secs(3);

/// Measure both drivers for `seconds` each; a failed measurement fails the one check.
pub(crate) fn run(r: &mut Runner, recording: &Path, seconds: u64) {
    let what = format!("idle cost of stock's driver and ours, {seconds} s each");
    r.check(&what, || {
        each_driver(recording, Path::new("/tmp/hil-idle"), |name, emu, s| {
            let pid = s.driver.as_ref().expect("driver started").pid();
            let (cpu0, req0) = (cpu_ns(pid), emu.requests());
            std::thread::sleep(Duration::from_secs(seconds));
            let (cpu1, req1) = (cpu_ns(pid), emu.requests());
            let hwm = vmhwm_kb(pid);
            println!(
                "IDLE {name} seconds={seconds} cpu_ms={} vmhwm_kb={hwm} control={} interrupt={}",
                (cpu1 - cpu0) / 1_000_000,
                req1.0 - req0.0,
                req1.1 - req0.1
            );
        });
    });
}

/// Stock's driver, then ours, each reading a fresh unit (its logs under `work`) behind our
/// upsd at default polling, [`SETTLE`] after upsd first serves its fresh data: `measure` gets
/// the driver's name (`stock`, `ours`), the unit and the set-up; the driver is stopped after.
pub(crate) fn each_driver(
    recording: &Path,
    work: &Path,
    mut measure: impl FnMut(&str, &Emulator, &mut Setup),
) {
    let stock = stock_nut().expect("stock NUT 2.8.0 is installed");
    for (which, name) in [(Which::Stock, "stock"), (Which::Ours, "ours")] {
        let emu = Emulator::attach(recording, &work.join(format!("{which:?}")));
        let mut s = Setup::new(vendor_of(recording), "");
        s.start(&which.driver(&stock), &["-u", "root"]);
        std::thread::sleep(SETTLE);
        measure(name, &emu, &mut s);
        s.stop();
    }
}

/// Nanoseconds `pid` has run on a CPU (`/proc/<pid>/schedstat`, all its threads).
fn cpu_ns(pid: u32) -> u64 {
    let mut total = 0;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the driver runs");
    for t in tasks.flatten() {
        let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        total += s
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// Peak resident set of `pid` in KiB (`VmHWM` of `/proc/<pid>/status`).
fn vmhwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the driver runs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}
