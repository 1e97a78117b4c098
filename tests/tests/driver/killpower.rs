//! Kill power the way NUT's shutdown scripts do it (`upsdrvctl shutdown`), on the simulated APC
//! Back-UPS BK650M2-CH: with no driver running (the driver opens the unit itself) and with one
//! running (killpower goes through its socket). The simulator's `simlog` must hold exactly the
//! SET_REPORTs NUT 2.8.0 sends for this unit: `shutdown.return` cannot work on it (no
//! DelayBeforeStartup), so `shutdown.reboot` writes 10 to APCDelayBeforeReboot (report 0x40),
//! whatever `offdelay` / `ondelay` say. A unit with none of the three commands fails loudly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nut_test_support::daemon::{signal, wait_for};
use nut_test_support::usbhid::{
    bk650m2_reboot_line, bk650m2_recording, cut_and_return_lines, driverpath, empty_dir, simlog,
    sock, DRIVER,
};
use nut_test_support::{our_bin, NutDir};

/// A NUT directory whose ups.conf runs our driver binary (`driverpath`) for UPS `ups` on
/// `recording`, logging SET_REPORTs to `<dir>/simlog`; `extra` goes into the section.
fn dir_for(recording: &Path, extra: &str) -> NutDir {
    let dir = empty_dir();
    write_ups_conf(&dir, recording, extra);
    dir
}

fn write_ups_conf(dir: &NutDir, recording: &Path, extra: &str) {
    dir.write_conf(
        "ups.conf",
        &format!(
            "driverpath = \"{}\"\n[ups]\n\tdriver = {DRIVER}\n\tport = auto\n\
             \trecording = \"{}\"\n\tsimlog = \"{}\"\n{extra}",
            driverpath().display(),
            recording.display(),
            simlog(dir).display()
        ),
    );
}

fn simlog_lines(dir: &NutDir) -> Vec<String> {
    std::fs::read_to_string(simlog(dir))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn pidfile(dir: &NutDir) -> PathBuf {
    dir.state().join(format!("{DRIVER}-ups.pid"))
}

fn run(dir: &NutDir, program: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    dir.run(program, args, Duration::from_secs(40))
}

/// Our driver once in the foreground, dumping its variables after one update (`-d 1`).
fn dump_once(dir: &NutDir) -> (Option<i32>, String, String) {
    run(
        dir,
        &our_bin(DRIVER),
        &["-a", "ups", "-u", "root", "-d", "1", "-i", "1"],
    )
}

fn upsdrvctl(dir: &NutDir, args: &[&str]) -> (Option<i32>, String, String) {
    run(dir, &our_bin("upsdrvctl"), args)
}

/// A driver started by `upsdrvctl start`: terminated by its PID file when the test ends,
/// whatever happened.
struct Started(PathBuf);

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal(pid, "TERM");
            }
        }
    }
}

fn start(dir: &NutDir) -> Started {
    let (code, out, err) = upsdrvctl(dir, &["-u", "root", "start", "ups"]);
    let started = Started(pidfile(dir));
    assert_eq!(code, Some(0), "upsdrvctl start: {out}{err}");
    wait_for("driver socket", Duration::from_secs(10), |_| {
        sock(dir).exists().then_some(())
    });
    started
}

#[test]
fn shutdown_with_no_driver_running_opens_the_unit_itself() {
    let dir = dir_for(&bk650m2_recording(), "");
    let (code, out, err) = upsdrvctl(&dir, &["shutdown"]);
    assert_eq!(code, Some(0), "upsdrvctl shutdown: {out}{err}");
    assert!(!sock(&dir).exists(), "no driver was left running");
    assert!(
        !err.contains("the running driver shut the UPS down")
            && err.contains("Initiating UPS shutdown"),
        "{out}{err}"
    );
    assert_eq!(simlog_lines(&dir), [bk650m2_reboot_line()], "{out}{err}");
}

#[test]
fn shutdown_with_a_running_driver_goes_through_its_socket() {
    let dir = dir_for(&bk650m2_recording(), "");
    let _driver = start(&dir);
    assert_eq!(
        simlog_lines(&dir),
        Vec::<String>::new(),
        "nothing sent at start"
    );
    let (code, out, err) = upsdrvctl(&dir, &["shutdown"]);
    assert_eq!(code, Some(0), "upsdrvctl shutdown: {out}{err}");
    // The -k run found the instance on its socket (SET driver.flag.allow_killpower, INSTCMD
    // driver.killpower): the running driver sent the bytes, once.
    assert!(
        err.contains("the running driver shut the UPS down"),
        "{out}{err}"
    );
    assert_eq!(simlog_lines(&dir), [bk650m2_reboot_line()], "{out}{err}");
    let (code, out, err) = upsdrvctl(&dir, &["stop", "ups"]);
    assert_eq!(code, Some(0), "upsdrvctl stop: {out}{err}");
}

#[test]
fn offdelay_and_ondelay_do_not_change_what_this_unit_receives() {
    let dir = dir_for(&bk650m2_recording(), "\toffdelay = 60\n\tondelay = 120\n");
    // The options reach the variables 2.8.0 publishes for them: this unit has
    // DelayBeforeShutdown (ups.delay.shutdown) but no DelayBeforeStartup (no ups.delay.start).
    let (code, out, err) = dump_once(&dir);
    assert_eq!(code, Some(0), "-d 1: {err}");
    assert!(out.contains("\nups.delay.shutdown: 60\n"), "{out}");
    assert!(!out.contains("\nups.delay.start:"), "{out}");
    assert_eq!(simlog_lines(&dir), Vec::<String>::new(), "-d sends nothing");

    // shutdown.return needs load.on.delay, which this unit lacks, so 2.8.0 sends nothing for
    // it and goes on to shutdown.reboot: neither 60 nor 120 is ever written.
    let (code, out, err) = upsdrvctl(&dir, &["shutdown"]);
    assert_eq!(code, Some(0), "upsdrvctl shutdown: {out}{err}");
    assert_eq!(simlog_lines(&dir), [bk650m2_reboot_line()], "{out}{err}");

    // The same through a running instance.
    std::fs::remove_file(simlog(&dir)).unwrap();
    let _driver = start(&dir);
    let (code, out, err) = upsdrvctl(&dir, &["shutdown", "ups"]);
    assert_eq!(code, Some(0), "upsdrvctl shutdown ups: {out}{err}");
    assert_eq!(simlog_lines(&dir), [bk650m2_reboot_line()], "{out}{err}");
    let (code, out, err) = upsdrvctl(&dir, &["stop", "ups"]);
    assert_eq!(code, Some(0), "upsdrvctl stop: {out}{err}");
}

/// The BK650M2-CH recording with DelayBeforeShutdown (report 0x15) and APCDelayBeforeReboot
/// (report 0x40) renamed to usages no table knows: no shutdown.return, shutdown.reboot nor
/// load.off.delay is left.
fn crippled_recording(dir: &NutDir) -> PathBuf {
    let text = std::fs::read_to_string(bk650m2_recording()).unwrap();
    let edited = text
        .replacen("85 15 05 84 09 57", "85 15 05 84 09 5f", 1)
        .replacen("85 40 09 7c", "85 40 09 7b", 1);
    assert_eq!(
        edited
            .matches("85 15 05 84 09 5f")
            .count()
            .min(edited.matches("85 40 09 7b").count()),
        1,
        "the descriptor bytes to edit were not found"
    );
    let path = dir.path().join("no-delays.recording.toml");
    std::fs::write(&path, edited).unwrap();
    path
}

/// `upsdrvctl shutdown` fails loudly, naming the UPS, and nothing reaches the unit.
fn shutdown_fails_and_sends_nothing(dir: &NutDir) {
    let (code, out, err) = upsdrvctl(dir, &["shutdown"]);
    assert_ne!(code, Some(0), "upsdrvctl shutdown must fail: {out}{err}");
    assert!(err.contains("Shutdown failed!"), "{out}{err}");
    assert!(
        err.contains("Driver failed to shut down ups"),
        "upsdrvctl names the UPS: {out}{err}"
    );
    assert_eq!(simlog_lines(dir), Vec::<String>::new(), "nothing sent");
}

#[test]
fn a_unit_without_shutdown_commands_fails_with_a_clear_message() {
    let dir = dir_for(&bk650m2_recording(), "");
    let rec = crippled_recording(&dir);
    write_ups_conf(&dir, &rec, "");
    // sanity: the edited unit still serves, without the commands
    let (code, out, err) = dump_once(&dir);
    assert_eq!(code, Some(0), "-d 1 on the edited unit: {err}");
    assert!(out.contains("\nups.status: OL DISCHRG\n"), "{out}");
    assert!(!out.contains("\nups.delay.shutdown:"), "{out}");

    shutdown_fails_and_sends_nothing(&dir);

    // The same through a running instance: it answers the INSTCMD with a failure.
    let _driver = start(&dir);
    shutdown_fails_and_sends_nothing(&dir);
    let (code, out, err) = upsdrvctl(&dir, &["stop", "ups"]);
    assert_eq!(code, Some(0), "upsdrvctl stop: {out}{err}");
}

/// Mains lost at 1 s after the driver opened the unit and back at `back` s, on both of the
/// BK650M2-CH's ACPresent fields, appended to its recording.
fn mains_out_until(dir: &NutDir, back: f64) -> PathBuf {
    let base = std::fs::read_to_string(bk650m2_recording()).unwrap();
    let text = format!(
        "{base}
[[event]]
at_s = 1.0
set = {{ \"UPS.PowerSummary.PresentStatus.ACPresent\" = 0, \"UPS.PowerSummary.ACPresent\" = 0, \"UPS.PowerSummary.PresentStatus.Discharging\" = 1 }}
interrupt = true

[[event]]
at_s = {back:.1}
set = {{ \"UPS.PowerSummary.PresentStatus.ACPresent\" = 1, \"UPS.PowerSummary.ACPresent\" = 1 }}
interrupt = true
"
    );
    let path = dir.path().join("mains-out.recording.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Killpower through the running driver 2 s after it started (mains out since 1 s), then the
/// simlog's lines as they appear, each with the seconds since killpower, until `n` lines.
fn killpower_and_watch(back: f64, n: usize) -> Vec<(String, f64)> {
    let dir = empty_dir();
    let rec = mains_out_until(&dir, back);
    write_ups_conf(&dir, &rec, "");
    let t0 = std::time::Instant::now();
    let _driver = start(&dir);
    std::thread::sleep(Duration::from_secs(2).saturating_sub(t0.elapsed()));
    let (code, out, err) = upsdrvctl(&dir, &["shutdown", "ups"]);
    let k = std::time::Instant::now();
    assert_eq!(code, Some(0), "upsdrvctl shutdown: {out}{err}");
    let mut seen: Vec<(String, f64)> = Vec::new();
    wait_for("the unit's transitions", Duration::from_secs(30), |_| {
        let lines = simlog_lines(&dir);
        for l in lines.into_iter().skip(seen.len()) {
            seen.push((l, k.elapsed().as_secs_f64()));
        }
        (seen.len() >= n).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(simlog_lines(&dir).len(), n, "nothing more: {seen:?}");
    let (code, out, err) = upsdrvctl(&dir, &["stop", "ups"]);
    assert_eq!(code, Some(0), "upsdrvctl stop: {out}{err}");
    seen
}

/// Mains still out when the unit cuts the load: it powers off (leaves the bus) and the load
/// comes back when mains does.
#[test]
fn killpower_on_battery_cuts_the_load_and_mains_back_restores_it() {
    let seen = killpower_and_watch(17.0, 5);
    let lines: Vec<String> = seen.iter().map(|(l, _)| l.clone()).collect();
    assert_eq!(lines, cut_and_return_lines(), "{seen:?}");
    // shutdown.reboot's 10 s, then off until mains is back at 17 s (15 s after killpower).
    // The simulated unit lives in the driver and logs what happened when the driver next
    // touches it: after the unplug, its reopen attempts 1, 2, 4 and 8 s apart, so the return
    // shows at the first attempt after mains is back.
    let (off, on) = (seen[1].1, seen[4].1);
    assert!((9.5..12.0).contains(&off), "{seen:?}");
    assert!((14.5..26.0).contains(&on), "{seen:?}");
}

/// The power race: mains back after killpower but before the cut. The load is cycled all the
/// same (off, then on again since mains is present), so hosts that halted come back.
#[test]
fn mains_back_before_the_cut_still_cycles_the_load() {
    let seen = killpower_and_watch(5.0, 3);
    let lines: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
    let reboot = bk650m2_reboot_line();
    assert_eq!(
        lines,
        [reboot.as_str(), "OUTPUT OFF", "OUTPUT ON"],
        "{seen:?}"
    );
    assert!((9.5..12.0).contains(&seen[1].1), "{seen:?}");
}
