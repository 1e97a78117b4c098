//! Our usbhid-ups on the replayed APC Back-UPS BK650M2-CH recording, behind stock upsd and
//! behind ours: stock upsc must show the variables stock NUT 2.8.0 published for this unit
//! (its upsc dump, `tests/data/bk650m2-ch.dev`), apart from host-specific values; stock
//! upscmd/upsrw commands and writes reach the unit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nut_test_support::daemon::{start_upsd_bin, wait_reply, wait_var};
use nut_test_support::usbhid::{
    bk650m2_reboot_line, bk650m2_recording, empty_dir, power_failure_scenario, simlog,
    start_driver, stock_commands_and_set_succeed, target, DRIVER,
};
use nut_test_support::{our_bin, stock_dump, stock_nut, Impl, LineClient, NutDir, StockNut};

/// Ours only: our recording key and what our driver core publishes like NUT 2.8.1+.
const EXTRA_OK: &[&str] = &[
    "driver.parameter.recording",
    "driver.parameter.simlog",
    "driver.flag.allow_killpower",
    "driver.debug",
];

/// A NUT directory whose UPS `ups` is our driver on `recording`, logging SET_REPORTs to
/// `<dir>/simlog`.
fn dir_for(recording: &std::path::Path) -> NutDir {
    let dir = empty_dir();
    dir.write_conf(
        "ups.conf",
        &format!(
            "[ups]\n\tdriver = {DRIVER}\n\tport = auto\n\tpollfreq = 40\n\tpollinterval = 10\n\
             \trecording = \"{}\"\n\tsimlog = \"{}\"\n",
            recording.display(),
            simlog(&dir).display()
        ),
    );
    dir
}

fn dir() -> NutDir {
    dir_for(&bk650m2_recording())
}

fn run(dir: &NutDir, program: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    dir.run(program, args, Duration::from_secs(20))
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn check(stock: &StockNut, which: Impl) -> BTreeMap<String, String> {
    let dir = dir();
    let _driver = start_driver(&dir, &[]);
    let _upsd = start_upsd_bin(&dir, &which.binary(stock), &["-F", "-u", "root"]);
    wait_var(dir.port, "ups", "ups.vendorid", Duration::from_secs(10));
    let target = target(&dir);
    let (code, out, err) = run(&dir, &stock.upsc, &[&target]);
    assert_eq!(code, Some(0), "{which:?} upsc: {err}");
    let ours = parse(&out);
    let diffs = stock_dump::differences(&ours, EXTRA_OK);
    assert!(
        diffs.is_empty(),
        "{which:?}: stock upsc shows differences from stock 2.8.0:\n{}",
        diffs.join("\n")
    );
    assert_eq!(
        ours.get("ups.status").map(String::as_str),
        Some("OL DISCHRG")
    );
    assert_eq!(ours.get("battery.type").map(String::as_str), Some("PbAc"));

    let (code, out, _) = run(&dir, &stock.upscmd, &["-l", &target]);
    assert_eq!(code, Some(0));
    let cmds: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once(" - ").map(|(c, _)| c))
        // Our driver core's own commands (NUT 2.8.1+ names), not the device's.
        .filter(|c| !c.starts_with("driver.") && *c != "shutdown.default")
        .collect();
    assert_eq!(cmds, stock_dump::COMMANDS, "{which:?}: {out}");
    stock_commands_and_set_succeed(stock, &dir, &format!("{which:?}"));
    // ups.delay.shutdown is a driver-side setting: nothing more reaches the unit.
    let log = std::fs::read_to_string(simlog(&dir)).unwrap_or_default();
    assert_eq!(log.lines().count(), 2, "{log}");
    // Kill power through the running driver: 2.8.0 falls back to shutdown.reboot on this unit
    // (no DelayBeforeStartup for shutdown.return): APCDelayBeforeReboot = 10.
    let (code, out, err) = run(&dir, &our_bin(DRIVER), &["-a", "ups", "-k"]);
    assert_eq!(code, Some(0), "{which:?} -k: {out}{err}");
    let log = std::fs::read_to_string(simlog(&dir)).unwrap_or_default();
    assert_eq!(
        log.lines().last(),
        Some(bk650m2_reboot_line().as_str()),
        "{which:?}: {log}"
    );
    ours
}

#[test]
fn stock_upsc_shows_stock_variables_through_stock_and_our_upsd() {
    let Some(stock) = stock_nut() else { return };
    let mut a = check(&stock, Impl::Stock);
    let mut b = check(&stock, Impl::Ours);
    // Each run has its own temporary directory.
    a.remove("driver.parameter.simlog");
    b.remove("driver.parameter.simlog");
    assert_eq!(a, b, "stock upsd and ours show different variables");
}

fn value_of(port: u16, var: &str) -> String {
    let mut c = LineClient::connect(port).expect("connect");
    let r = c.request(&format!("GET VAR ups {var}"));
    r.trim_end()
        .rsplit_once(' ')
        .map(|(_, v)| v.trim_matches('"').to_string())
        .unwrap_or(r)
}

#[test]
fn a_power_failure_reaches_upsc_through_interrupt_reports() {
    let tmp = NutDir::new();
    let rec = tmp.path().join("scenario.toml");
    let base = std::fs::read_to_string(bk650m2_recording()).expect("recording");
    std::fs::write(&rec, format!("{base}{}", power_failure_scenario(1.0))).expect("write scenario");
    let dir = dir_for(&rec);
    let _driver = start_driver(&dir, &[]);
    let _upsd = start_upsd_bin(&dir, &our_bin("upsd"), &["-F", "-u", "root"]);
    wait_var(dir.port, "ups", "ups.vendorid", Duration::from_secs(10));
    // pollinterval is 10 s: within this scenario only interrupt reports can change the status.
    // Watch ups.status through upsd every 5 ms and note when each new value shows up.
    let mut c = LineClient::connect(dir.port).expect("connect");
    let t0 = Instant::now();
    let mut seen: Vec<(Duration, String)> = Vec::new();
    while t0.elapsed() < Duration::from_secs(10) {
        let r = c.request("GET VAR ups ups.status");
        if seen.last().map(|(_, v)| v) != Some(&r) {
            seen.push((t0.elapsed(), r.clone()));
        }
        // The mains-back event changes three reports, which arrive one by one: "OL CHRG LB"
        // may show for a moment before the LB report lands; wait for the final status.
        if r == "VAR ups ups.status \"OL CHRG\"\n" {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let at = |want: &str| {
        seen.iter()
            .find(|(_, v)| *v == format!("VAR ups ups.status \"{want}\"\n"))
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("{want} never seen: {seen:?}"))
    };
    let (ob, lb, ol) = (at("OB DISCHRG"), at("OB DISCHRG LB"), at("OL CHRG"));
    // The events are 2 s and 1 s apart; each change reaching upsc late by up to 100 ms (plus
    // our 5 ms sampling) keeps the gaps within 0.11 s of that.
    let near = |gap: Duration, want: f64| (gap.as_secs_f64() - want).abs() <= 0.11;
    assert!(near(lb - ob, 2.0), "{seen:?}");
    assert!(near(ol - lb, 1.0), "{seen:?}");
    assert_eq!(value_of(dir.port, "battery.charge"), "30");
    let log = dir.log("driver.log");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn an_unplugged_unit_goes_stale_and_comes_back_without_a_restart() {
    let tmp = NutDir::new();
    let rec = tmp.path().join("vanish.toml");
    let base = std::fs::read_to_string(bk650m2_recording()).expect("recording");
    let scenario = "\n[[event]]\nat_s = 2.0\nfault = \"vanish\"\nduration_s = 3.0\n";
    std::fs::write(&rec, format!("{base}{scenario}")).expect("write scenario");
    let dir = dir_for(&rec);
    let conf = std::fs::read_to_string(dir.conf().join("ups.conf")).expect("ups.conf");
    dir.write_conf(
        "ups.conf",
        &conf.replace("pollinterval = 10", "pollinterval = 1"),
    );
    let mut driver = start_driver(&dir, &[]);
    let _upsd = start_upsd_bin(&dir, &our_bin("upsd"), &["-F", "-u", "root"]);
    wait_var(dir.port, "ups", "ups.vendorid", Duration::from_secs(10));
    wait_reply(
        dir.port,
        "GET VAR ups ups.status",
        "ERR DATA-STALE\n",
        Duration::from_secs(10),
    );
    wait_reply(
        dir.port,
        "GET VAR ups ups.status",
        "VAR ups ups.status \"OL DISCHRG\"\n",
        Duration::from_secs(15),
    );
    assert!(driver.exited().is_none(), "{}", dir.log("driver.log"));
}
