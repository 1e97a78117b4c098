//! Helpers for the tests of our usbhid-ups driver: the BK650M2-CH recording it replays, the
//! `SET_REPORT` lines its simulator logs, starting it in the foreground on a [`NutDir`], and
//! the requests stock upscmd/upsrw send it through upsd.

use std::path::PathBuf;
use std::time::Duration;

use crate::daemon::{wait_for, wait_reply, wait_var};
use crate::{our_bin, tests_dir, Driver, Impl, NutDir, NutDirOptions, Proc, Rig, StockNut, Upsd};

/// The driver's program name.
pub const DRIVER: &str = "usbhid-ups";

/// The recording of the APC Back-UPS BK650M2-CH the simulator replays.
pub fn bk650m2_recording() -> PathBuf {
    tests_dir().join("../drivers/usbhid-ups/tests/data/back-ups-bk650m2-ch.recording.toml")
}

/// A power failure on the BK650M2-CH, as `[[event]]` entries to append to its recording:
/// mains lost at `t0` seconds, charge 30 % one second later, low battery a second later, mains
/// back (and low battery cleared) a second after that; every changed Input report goes on the
/// interrupt pipe. ACPresent exists twice on this unit (a PresentStatus bit in report 0x16 and
/// an 8-bit PowerSummary value in 0x13): a real unit changes both, and NUT reads both. Its
/// low-battery flag is only the 8-bit PowerSummary.BelowRemainingCapacityLimit (0x14).
pub fn power_failure_scenario(t0: f64) -> String {
    let (t1, t2, t3) = (t0 + 1.0, t0 + 2.0, t0 + 3.0);
    format!(
        r#"
[[event]]
at_s = {t0:.1}
set = {{ "UPS.PowerSummary.PresentStatus.ACPresent" = 0, "UPS.PowerSummary.ACPresent" = 0 }}
interrupt = true

[[event]]
at_s = {t1:.1}
set = {{ "UPS.PowerSummary.RemainingCapacity" = 30 }}
interrupt = true

[[event]]
at_s = {t2:.1}
set = {{ "UPS.PowerSummary.BelowRemainingCapacityLimit" = 1 }}
interrupt = true

[[event]]
at_s = {t3:.1}
set = {{ "UPS.PowerSummary.PresentStatus.ACPresent" = 1, "UPS.PowerSummary.ACPresent" = 1, "UPS.PowerSummary.PresentStatus.Discharging" = 0, "UPS.PowerSummary.PresentStatus.Charging" = 1, "UPS.PowerSummary.BelowRemainingCapacityLimit" = 0 }}
interrupt = true
"#
    )
}

/// The directory of our driver binaries, for `driverpath` in ups.conf (upsdrvctl).
pub fn driverpath() -> PathBuf {
    our_bin(DRIVER).parent().unwrap().to_path_buf()
}

/// A NUT directory with no UPS in it (the test writes its own ups.conf).
pub fn empty_dir() -> NutDir {
    NutDir::with(NutDirOptions {
        upses: Vec::new(),
        upsd_conf_extra: Vec::new(),
    })
}

/// The `SET_REPORT 0xNN …` line of the simulator's log for a report `id` whose first data
/// byte is `value`, as NUT 2.8.0 sends it: the whole buffered report of `len` bytes (NUT's
/// declared length, 24 bytes for 0x21 and 0x40 on the BK650M2-CH).
pub fn set_report_line(id: u8, value: u8, len: usize) -> String {
    let mut b = vec![0u8; len];
    b[0] = id;
    b[1] = value;
    let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("SET_REPORT 0x{id:02x} {}", hex.join(" "))
}

/// What NUT 2.8.0 sends for `shutdown.reboot` on the BK650M2-CH: APCDelayBeforeReboot = 10,
/// the whole declared report 0x40 (24 bytes, the length NUT buffers for it).
pub fn bk650m2_reboot_line() -> String {
    set_report_line(0x40, 10, 24)
}

/// Where the simulator logs the reports it was sent (`simlog = …` in ups.conf).
pub fn simlog(dir: &NutDir) -> PathBuf {
    dir.path().join("simlog")
}

/// The driver's socket for the UPS `ups`.
pub fn sock(dir: &NutDir) -> PathBuf {
    dir.state().join(format!("{DRIVER}-ups"))
}

/// Start our driver in the foreground (`-a ups -u root -F`, then `extra`), output to
/// `driver.log`, after removing a socket left by an earlier instance; waits for the new
/// socket and panics with the log if the driver exits first.
pub fn start_driver(dir: &NutDir, extra: &[&str]) -> Proc {
    let _ = std::fs::remove_file(sock(dir));
    let child = dir
        .command(&our_bin(DRIVER), "driver.log")
        .args(["-a", "ups", "-u", "root", "-F"])
        .args(extra)
        .spawn()
        .expect("spawn our driver");
    let mut p = Proc {
        child,
        name: "usbhid-ups ups".into(),
    };
    wait_for("driver socket", Duration::from_secs(10), |_| {
        if let Some(st) = p.exited() {
            panic!("driver exited ({st}):\n{}", dir.log("driver.log"));
        }
        sock(dir).exists().then_some(())
    });
    p
}

/// The UPS `ups` of `dir` as stock clients name it.
pub fn target(dir: &NutDir) -> String {
    format!("ups@127.0.0.1:{}", dir.port)
}

/// Stock `upsrw -s <assignment>` as admin, waiting for the driver's verdict (`-w`):
/// (exit code, stdout, stderr).
pub fn stock_set(
    stock: &StockNut,
    dir: &NutDir,
    assignment: &str,
) -> (Option<i32>, String, String) {
    let args = [
        "-s",
        assignment,
        "-u",
        "admin",
        "-p",
        "adminpw",
        "-w",
        &target(dir),
    ];
    dir.run(&stock.upsrw, &args, Duration::from_secs(20))
}

/// Through stock upscmd and upsrw as admin, each waiting for the driver's verdict: the
/// instant commands `beeper.disable` and `test.battery.start.quick` and the write
/// `ups.delay.shutdown=30` succeed, and upsd then serves the new value. `label` starts every
/// failure message.
pub fn stock_commands_and_set_succeed(stock: &StockNut, dir: &NutDir, label: &str) {
    let target = target(dir);
    for cmd in ["beeper.disable", "test.battery.start.quick"] {
        let (code, out, err) = dir.run(
            &stock.upscmd,
            &["-u", "admin", "-p", "adminpw", "-w", &target, cmd],
            Duration::from_secs(20),
        );
        assert_eq!(code, Some(0), "{label} upscmd {cmd}: {out}{err}");
        assert!(err.contains("SUCCESS"), "{label} upscmd {cmd}: {out}{err}");
    }
    let (code, out, err) = stock_set(stock, dir, "ups.delay.shutdown=30");
    assert_eq!(code, Some(0), "{label} upsrw: {out}{err}");
    assert!(err.contains("SUCCESS"), "{label} upsrw: {out}{err}");
    wait_reply(
        dir.port,
        "GET VAR ups ups.delay.shutdown",
        "VAR ups ups.delay.shutdown \"30\"\n",
        Duration::from_secs(5),
    );
}

/// Seconds since the Unix epoch, as the test scripts' `date +%s.%N` writes them.
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Our driver (the simulated BK650M2-CH with `scenario`'s `[[event]]` entries appended, polled
/// every `pollinterval` s, SET_REPORTs and transitions logged to [`simlog`]) behind our upsd:
/// the rig, the driver (started in the foreground) and the time it was started
/// ([`epoch_now`], just before the unit's scenario clock starts).
pub fn simulated_rig(stock: StockNut, scenario: &str, pollinterval: u32) -> (Rig, Proc, f64) {
    let dir = empty_dir();
    let recording = dir.path().join("scenario.toml");
    let base = std::fs::read_to_string(bk650m2_recording()).expect("recording");
    std::fs::write(&recording, format!("{base}{scenario}")).unwrap();
    dir.write_conf(
        "ups.conf",
        &format!(
            "[ups]\n\tdriver = usbhid-ups\n\tport = auto\n\tpollinterval = {pollinterval}\n\
             \trecording = \"{}\"\n\tsimlog = \"{}\"\n",
            recording.display(),
            simlog(&dir).display()
        ),
    );
    let t0 = epoch_now();
    let driver = start_driver(&dir, &[]);
    let upsd = Upsd::start(&dir, &our_bin("upsd"), Impl::Ours);
    wait_var(dir.port, "ups", "ups.vendorid", Duration::from_secs(10));
    let rig = Rig {
        upsd,
        driver: Driver {
            procs: Vec::new(),
            fakes: Vec::new(),
        },
        dir,
        stock,
    };
    (rig, driver, t0)
}

/// The simlog of a killpower on battery that mains outlives: 2.8.0's `shutdown.reboot`
/// bytes, the load cut with the unit leaving the bus, then back with mains.
pub fn cut_and_return_lines() -> Vec<String> {
    let mut v = vec![bk650m2_reboot_line()];
    v.extend(["OUTPUT OFF", "UNPLUG", "REPLUG", "OUTPUT ON"].map(String::from));
    v
}
