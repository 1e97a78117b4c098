//! `hil-guest --latency CUTS`: how long a mains loss takes to show in upsd on the real kernel,
//! for stock's usbhid-ups 2.8.0 and ours one after the other, each on a fresh emulated unit
//! behind our upsd at default polling. The emulator's `mains off` changes the unit's reports
//! and sends the interrupt-IN reports an APC unit sends; the time runs from the command being
//! sent to the first `GET VAR ups ups.status` (asked every 10 ms on one connection) whose
//! status has `OB`. Mains comes back (`mains on`) and `OL` is awaited before the next cut; the
//! cuts fall at different points of the poll cycle (2 s apart plus 0.37 s more each time).
//! One line per driver:
//!
//! `LATENCY <stock|ours> cuts=<n> median_ms=<n> max_ms=<n> ms=<each cut's, in order>`

use std::path::Path;
use std::time::{Duration, Instant};

use nut_test_support::LineClient;

use crate::emulator::Emulator;
use crate::idle::each_driver;
use crate::Runner;

/// How often upsd is asked.
const POLL: Duration = Duration::from_millis(10);
/// The longest a driver may take to show a change (stock polls every 2 s, and its full
/// walk every 30 s).
const GIVE_UP: Duration = Duration::from_secs(60);

/// Measure both drivers, `cuts` mains losses each; a failed measurement fails the one check.
pub(crate) fn run(r: &mut Runner, recording: &Path, cuts: u32) {
    let what = format!("mains-loss latency of stock's driver and ours, {cuts} cuts each");
    r.check(&what, || {
        each_driver(recording, Path::new("/tmp/hil-latency"), |name, emu, s| {
            let mut ups = LineClient::connect(s.dir.port).expect("upsd listens");
            let mut ms = Vec::new();
            for i in 0..cuts {
                std::thread::sleep(Duration::from_millis(2000 + 370 * u64::from(i)));
                let (took, _) = cut(emu, &mut ups, GIVE_UP);
                ms.push(took.as_millis());
                restore(emu, &mut ups, GIVE_UP);
            }
            let mut sorted = ms.clone();
            sorted.sort_unstable();
            let each: Vec<String> = ms.iter().map(u128::to_string).collect();
            println!(
                "LATENCY {name} cuts={cuts} median_ms={} max_ms={} ms={}",
                sorted[sorted.len() / 2],
                sorted[sorted.len() - 1],
                each.join(",")
            );
        });
    });
}

/// Cuts mains and waits (at most `within`) for upsd to show `OB`: the time from the command,
/// and upsd's reply line.
pub(crate) fn cut(emu: &Emulator, ups: &mut LineClient, within: Duration) -> (Duration, String) {
    switch(emu, ups, within, "mains off", |st| has(st, "OB"))
}

/// Brings mains back and waits (at most `within`) for upsd to show `OL` again: the time from
/// the command, and upsd's reply line.
pub(crate) fn restore(
    emu: &Emulator,
    ups: &mut LineClient,
    within: Duration,
) -> (Duration, String) {
    switch(emu, ups, within, "mains on", |st| has(st, "OL"))
}

/// Whether `status` has the word `flag`.
fn has(status: &str, flag: &str) -> bool {
    status.split(' ').any(|w| w == flag)
}

/// Sends `command`, then asks upsd for `ups.status` every [`POLL`] until `done` says yes to
/// the status: the time from the command, and upsd's reply line. Panics with the last reply
/// after `within`.
fn switch(
    emu: &Emulator,
    ups: &mut LineClient,
    within: Duration,
    command: &str,
    done: impl Fn(&str) -> bool,
) -> (Duration, String) {
    let start = Instant::now();
    emu.send(command);
    let mut last = String::new();
    while start.elapsed() < within {
        last = ups
            .try_request("GET VAR ups ups.status")
            .unwrap_or_else(|e| e);
        let status = last
            .strip_prefix("VAR ups ups.status \"")
            .and_then(|s| s.strip_suffix("\"\n"));
        if status.is_some_and(&done) {
            return (start.elapsed(), last);
        }
        std::thread::sleep(POLL);
    }
    panic!(
        "{command}: upsd's ups.status not as awaited within {} s; last reply {last:?}",
        within.as_secs_f64()
    );
}
