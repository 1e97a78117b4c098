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
    bk650m2_reboot_line, bk650m2_recording, driverpath, empty_dir, simlog, sock, DRIVER,
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
