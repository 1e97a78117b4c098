//! Record mode captures a live event: our usbhid-ups on a simulated power failure (the
//! BK650M2-CH recording plus a scenario) with `record = <file>` writes the unit, then appends
//! every interrupt report it reads as an `[[interrupt]]` entry. The file must hold exactly the
//! Input reports the scenario sent, in order and on time, and replaying it (no scenario left)
//! must take upsd's ups.status through the same sequence as the live run.

use std::path::Path;
use std::time::{Duration, Instant};

use nut_hid_recording::Recording;
use nut_test_support::daemon::{signal, start_upsd_bin, wait_for, wait_var};
use nut_test_support::usbhid::{
    bk650m2_recording, empty_dir, power_failure_scenario, start_driver, DRIVER,
};
use nut_test_support::{our_bin, LineClient, NutDir, Proc};

/// The power failure of `replay.rs` one second later (so that upsd serves the unit well
/// before it starts): the reports `power_failure_scenario(2.0)` sends, in order, with the
/// delay after the previous one (ms). Each event sends its changed Input reports in the
/// order `set` first names them: 0x16 holds the PresentStatus bits (0x01 Charging, 0x02
/// Discharging, 0x04 ACPresent, 0x08 BatteryPresent; 0x0e before the scenario), 0x13 the
/// 8-bit ACPresent, 0x0c the charge, 0x14 the LB flag.
const EXPECTED: &[(u64, &[u8])] = &[
    (2000, &[0x16, 0x0a, 0x00]),
    (0, &[0x13, 0x00]),
    (1000, &[0x0c, 0x1e]),
    (1000, &[0x14, 0x01]),
    (1000, &[0x16, 0x0d, 0x00]),
    (0, &[0x13, 0x01]),
    (0, &[0x14, 0x00]),
];

/// Allowed error on each recorded delay.
const TOLERANCE_MS: u64 = 150;

/// Statuses upsd shows along the scenario. Mains-back changes three reports, read one by one:
/// "OL CHRG LB" may show for a moment before the LB report lands, so it is not compared.
const STATUSES: &[&str] = &["OL DISCHRG", "OB DISCHRG", "OB DISCHRG LB", "OL CHRG"];
const TRANSIENT: &str = "OL CHRG LB";

/// The BK650M2-CH recording without its own interrupt reports (the fixture ends with them), so
/// that only the scenario's reports reach the recording.
fn base() -> String {
    let text = std::fs::read_to_string(bk650m2_recording()).expect("recording");
    let end = text
        .find("\n[[interrupt]]")
        .expect("the fixture has interrupts");
    let base = &text[..=end];
    let rec = Recording::parse(base, "base").expect("base parses");
    assert!(rec.interrupts.is_empty() && rec.events.is_empty());
    base.to_string()
}

/// A NUT directory whose UPS `ups` is our driver on `recording`, polling every
/// `pollinterval` seconds, plus `extra` ups.conf lines.
fn dir_for(recording: &Path, pollinterval: u32, extra: &str) -> NutDir {
    let dir = empty_dir();
    dir.write_conf(
        "ups.conf",
        &format!(
            "[ups]\n\tdriver = {DRIVER}\n\tport = auto\n\tpollfreq = 40\n\tpollinterval = {pollinterval}\n\
             \trecording = \"{}\"\n{extra}",
            recording.display()
        ),
    );
    dir
}

/// Watches ups.status through upsd (every 5 ms) until "OL CHRG": each new value and when it
/// first showed up.
fn watch_status(port: u16) -> Vec<(Duration, String)> {
    let mut c = LineClient::connect(port).expect("connect");
    let t0 = Instant::now();
    let mut seen: Vec<(Duration, String)> = Vec::new();
    while t0.elapsed() < Duration::from_secs(10) {
        let r = c.request("GET VAR ups ups.status");
        let v = r
            .strip_prefix("VAR ups ups.status \"")
            .and_then(|v| v.strip_suffix("\"\n"))
            .unwrap_or(&r)
            .to_string();
        if seen.last().map(|(_, s)| s) != Some(&v) {
            seen.push((t0.elapsed(), v.clone()));
        }
        if v == "OL CHRG" {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    seen
}

/// The statuses of `seen` without the transient one, and their gaps (OB -> LB, LB -> OL)
/// checked against the scenario's 2 s and 1 s.
fn check_statuses(what: &str, seen: &[(Duration, String)]) {
    let statuses: Vec<&str> = seen
        .iter()
        .map(|(_, s)| s.as_str())
        .filter(|s| *s != TRANSIENT)
        .collect();
    assert_eq!(statuses, STATUSES, "{what}: {seen:?}");
    let at = |want: &str| {
        seen.iter()
            .find(|(_, s)| s == want)
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("{what}: {want} never seen: {seen:?}"))
    };
    let (ob, lb, ol) = (at("OB DISCHRG"), at("OB DISCHRG LB"), at("OL CHRG"));
    let near = |gap: Duration, want: f64| (gap.as_secs_f64() - want).abs() <= 0.15;
    assert!(near(lb - ob, 2.0), "{what}: {seen:?}");
    assert!(near(ol - lb, 1.0), "{what}: {seen:?}");
}

fn parse(path: &Path) -> Result<Recording, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    Recording::parse(&text, "recorded").map_err(|e| e.to_string())
}

/// SIGTERM, and wait for the exit.
fn stop(mut p: Proc, dir: &NutDir) {
    signal(p.pid(), "TERM");
    wait_for("the driver to exit", Duration::from_secs(5), |_| {
        p.exited().map(|_| ())
    });
    let log = dir.log("driver.log");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_recorded_power_failure_replays_the_same() {
    let tmp = NutDir::new();
    let scenario = tmp.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        format!("{}{}", base(), power_failure_scenario(2.0)),
    )
    .expect("write scenario");
    let recorded = tmp.path().join("recorded.toml");

    // Record the simulated power failure (polling every 10 s: within the scenario only
    // interrupt reports change the status).
    let dir = dir_for(
        &scenario,
        10,
        &format!("\trecord = \"{}\"\n", recorded.display()),
    );
    let driver = start_driver(&dir, &[]);
    // The snapshot is written when the unit is first opened, before the socket exists.
    let snapshot = parse(&recorded).expect("the snapshot parses");
    assert!(snapshot.interrupts.is_empty(), "{:?}", snapshot.interrupts);
    let upsd = start_upsd_bin(&dir, &our_bin("upsd"), &["-F", "-u", "root"]);
    wait_var(dir.port, "ups", "ups.vendorid", Duration::from_secs(10));
    let live = watch_status(dir.port);
    // Every append leaves a file that parses; wait for the last report, then a little more
    // so that an extra entry would show.
    wait_for("all interrupts recorded", Duration::from_secs(5), |last| {
        let rec = parse(&recorded).unwrap_or_else(|e| panic!("mid-capture: {e}"));
        *last = format!("{:?}", rec.interrupts);
        (rec.interrupts.len() >= EXPECTED.len()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    drop(upsd);
    stop(driver, &dir);
    check_statuses("live", &live);
    let log = dir.log("driver.log");
    assert!(
        log.contains(&format!(
            "device recorded to {}; interrupt reports are appended as they come",
            recorded.display()
        )),
        "{log}"
    );

    let rec = parse(&recorded).expect("the recording parses");
    let reports: Vec<&[u8]> = rec.interrupts.iter().map(|i| i.report.as_slice()).collect();
    let want: Vec<&[u8]> = EXPECTED.iter().map(|(_, r)| *r).collect();
    assert_eq!(reports, want, "{:?}", rec.interrupts);
    for (got, (ms, _)) in rec.interrupts.iter().zip(EXPECTED) {
        assert!(
            got.after_ms.abs_diff(*ms) <= TOLERANCE_MS,
            "after_ms {} where {ms} ± {TOLERANCE_MS} was expected: {:?}",
            got.after_ms,
            rec.interrupts
        );
    }
    // Apart from the appended reports, the file is the snapshot: no scenario, no other change.
    let mut rest = rec.clone();
    rest.interrupts.clear();
    assert_eq!(rest, snapshot);
    assert!(rec.events.is_empty());

    // Replay the file: the same statuses, at the same pace. It polls every second here, so
    // the GET_REPORTs between the interrupts must show the state the interrupts announced.
    let dir = dir_for(&recorded, 1, "");
    let driver = start_driver(&dir, &[]);
    let _upsd = start_upsd_bin(&dir, &our_bin("upsd"), &["-F", "-u", "root"]);
    wait_var(dir.port, "ups", "ups.vendorid", Duration::from_secs(10));
    let replayed = watch_status(dir.port);
    check_statuses("replayed", &replayed);
    let mut c = LineClient::connect(dir.port).expect("connect");
    assert_eq!(
        c.request("GET VAR ups battery.charge"),
        "VAR ups battery.charge \"30\"\n"
    );
    stop(driver, &dir);
}
