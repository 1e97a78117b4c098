//! The unit model on the BK650M2-CH recording and on a small unit with every delay, on a
//! manual clock: countdowns as the stored reports show them, the output going off and coming
//! back, the unit leaving and rejoining the bus, and the log lines of each.

use std::sync::Arc;
use std::time::Duration;

use nut_hid::{ReportKind, UsageTable};
use nut_hid_recording::Recording;

use crate::{Error, Fault, ManualClock, Unit};

const BK650: &str = include_str!("../../usbhid-ups/tests/data/back-ups-bk650m2-ch.recording.toml");

/// The APC names the tests need (usbhid-ups's `apc::USAGES` holds them all).
fn table() -> UsageTable {
    UsageTable::generic().with_vendor(&[
        ("APCGeneralCollection", 0xFF86_0005),
        ("APCDelayBeforeReboot", 0xFF86_007C),
        ("APCDelayBeforeShutdown", 0xFF86_007D),
        ("APCDelayBeforeStartup", 0xFF86_007E),
    ])
}

struct Rig {
    unit: Unit,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    log: std::path::PathBuf,
}

impl Rig {
    fn new(text: &str) -> Rig {
        let rec = Recording::parse(text, "test").unwrap();
        let clock = ManualClock::new();
        clock.set(Duration::from_secs(1000));
        let unit = Unit::with_clock(&rec, "test", &table(), clock.clone()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("simlog");
        unit.lock().log_to(&log).unwrap();
        Rig {
            unit,
            clock,
            _dir: dir,
            log,
        }
    }

    fn bk650(scenario: &str) -> Rig {
        Rig::new(&format!("{BK650}{scenario}"))
    }

    /// To `secs` after the start.
    fn at(&self, secs: f64) {
        self.clock
            .set(Duration::from_secs(1000) + Duration::from_secs_f64(secs));
    }

    fn get(&self, id: u8) -> Result<Vec<u8>, Error> {
        self.unit.lock().get_report(ReportKind::Feature, id, 64)
    }

    fn set(&self, report: &[u8]) {
        self.unit
            .lock()
            .set_report(ReportKind::Feature, report)
            .unwrap();
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

/// Mains lost at 5 s and back at `back` s, as the BK650M2-CH reports it (both ACPresent fields).
fn mains_lost_and_back(back: f64) -> String {
    format!(
        r#"
[[event]]
at_s = 5
set = {{ "UPS.PowerSummary.PresentStatus.ACPresent" = 0, "UPS.PowerSummary.ACPresent" = 0 }}
interrupt = true

[[event]]
at_s = {back}
set = {{ "UPS.PowerSummary.PresentStatus.ACPresent" = 1, "UPS.PowerSummary.ACPresent" = 1 }}
interrupt = true
"#
    )
}

#[test]
fn delay_before_shutdown_counts_down_each_second_then_the_output_goes_off_and_back_on_mains() {
    let r = Rig::bk650("");
    assert_eq!(r.get(0x15).unwrap(), [0x15, 0xff, 0xff], "idle: -1");
    r.at(2.0);
    // load.off.delay with offdelay 20
    r.set(&[0x15, 0x14, 0x00]);
    assert_eq!(r.get(0x15).unwrap(), [0x15, 0x14, 0x00]);
    r.at(2.999);
    assert_eq!(r.get(0x15).unwrap(), [0x15, 0x14, 0x00]);
    r.at(3.0);
    assert_eq!(r.get(0x15).unwrap(), [0x15, 0x13, 0x00]);
    r.at(21.5);
    assert_eq!(r.get(0x15).unwrap(), [0x15, 0x01, 0x00]);
    assert!(r.unit.lock().output_on());
    r.at(22.0);
    let u = r.unit.lock();
    // On mains, and the unit has no DelayBeforeStartup: back on at once, never off the bus.
    assert!(u.output_on() && u.present() && u.mains());
    assert_eq!(u.generation(), 0);
    drop(u);
    assert_eq!(r.get(0x15).unwrap(), [0x15, 0xff, 0xff], "idle again");
    assert_eq!(
        r.log(),
        ["SET_REPORT 0x15 15 14 00", "OUTPUT OFF", "OUTPUT ON"]
    );
}

#[test]
fn a_negative_delay_cancels_the_countdown() {
    let r = Rig::bk650("");
    r.set(&[0x15, 0x14, 0x00]);
    r.at(5.0);
    assert_eq!(r.get(0x15).unwrap(), [0x15, 0x0f, 0x00]);
    // shutdown.stop
    r.set(&[0x15, 0xff, 0xff]);
    r.at(500.0);
    assert_eq!(r.get(0x15).unwrap(), [0x15, 0xff, 0xff]);
    assert!(r.unit.lock().output_on());
    while r.unit.lock().pop_interrupt().is_some() {}
    assert_eq!(r.unit.lock().next_wake(), None, "nothing more to do");
    assert_eq!(
        r.log(),
        ["SET_REPORT 0x15 15 14 00", "SET_REPORT 0x15 15 ff ff"]
    );
}

#[test]
fn killpower_on_battery_powers_the_unit_off_until_mains_is_back() {
    let r = Rig::bk650(&mains_lost_and_back(60.0));
    r.at(6.0);
    assert!(!r.unit.lock().mains());
    while r.unit.lock().pop_interrupt().is_some() {}
    // NUT's shutdown.reboot: APCDelayBeforeReboot = 10, the 24 bytes NUT buffers for 0x40.
    let mut reboot = vec![0u8; 24];
    reboot[..2].copy_from_slice(&[0x40, 0x0a]);
    r.set(&reboot);
    r.at(7.0);
    assert_eq!(r.get(0x40).unwrap()[..2], [0x40, 0x09]);
    r.at(15.9);
    assert_eq!(r.get(0x40).unwrap()[..2], [0x40, 0x01]);
    assert_eq!(r.unit.lock().next_wake(), Some(Duration::from_secs(1016)));
    r.at(16.0);
    {
        let mut u = r.unit.lock();
        assert!(!u.present() && !u.output_on());
        assert_eq!(u.generation(), 1);
        assert!(matches!(
            u.get_report(ReportKind::Feature, 0x0c, 2),
            Err(Error::Gone)
        ));
        assert!(matches!(
            u.set_report(ReportKind::Feature, &[0x15, 0, 0]),
            Err(Error::Gone)
        ));
        // the next thing: the scenario's mains back
        assert_eq!(u.next_wake(), Some(Duration::from_secs(1060)));
    }
    r.at(59.0);
    assert!(!r.unit.lock().present());
    r.at(60.0);
    {
        let mut u = r.unit.lock();
        assert!(u.present() && u.output_on() && u.mains());
        // The counter shows its idle value again; the interrupt of the mains-back event was
        // sent by the unit once it was up.
        assert_eq!(
            u.get_report(ReportKind::Feature, 0x40, 2).unwrap(),
            [0x40, 0x00]
        );
        assert_eq!(u.pop_interrupt(), Some(vec![0x16, 0x0e, 0x00]));
        assert_eq!(u.pop_interrupt(), Some(vec![0x13, 0x01]));
        assert_eq!(u.pop_interrupt(), None);
    }
    let mut expected = vec![format!("SET_REPORT 0x40 40 0a {}", ["00"; 22].join(" "))];
    expected.extend(["OUTPUT OFF", "UNPLUG", "REPLUG", "OUTPUT ON"].map(String::from));
    assert_eq!(r.log(), expected);
}

/// The power race: killpower on battery (NUT 2.8.0's shutdown.reboot on this unit), then mains
/// back before the countdown runs out. The unit still cuts the load and powers it again, never
/// leaving the bus, so hosts that already halted reboot.
#[test]
fn killpower_then_mains_back_before_the_cut_still_cycles_the_output() {
    let r = Rig::bk650(&mains_lost_and_back(12.0));
    r.at(6.0);
    assert!(!r.unit.lock().mains());
    let mut reboot = vec![0u8; 24];
    reboot[..2].copy_from_slice(&[0x40, 0x0a]);
    r.set(&reboot);
    r.at(12.0);
    {
        let u = r.unit.lock();
        assert!(u.mains() && u.output_on() && u.present());
    }
    // mains back did not cancel the countdown
    assert_eq!(r.get(0x40).unwrap()[..2], [0x40, 0x04]);
    r.at(15.9);
    assert!(r.unit.lock().output_on());
    assert_eq!(r.get(0x40).unwrap()[..2], [0x40, 0x01]);
    r.at(16.0);
    {
        let u = r.unit.lock();
        // off at 16 s and, with mains and no DelayBeforeStartup on this unit, on again at once
        assert!(u.present() && u.output_on() && u.mains());
        assert_eq!(u.generation(), 0, "never left the bus");
    }
    assert_eq!(r.get(0x40).unwrap()[..2], [0x40, 0x00], "idle again");
    let mut expected = vec![format!("SET_REPORT 0x40 40 0a {}", ["00"; 22].join(" "))];
    expected.extend(["OUTPUT OFF", "OUTPUT ON"].map(String::from));
    assert_eq!(r.log(), expected);
    while r.unit.lock().pop_interrupt().is_some() {}
    assert_eq!(r.unit.lock().next_wake(), None, "nothing more to do");
}

#[test]
fn the_recorded_interrupts_before_the_unplug_are_lost() {
    let r = Rig::bk650(&mains_lost_and_back(60.0));
    r.at(6.0);
    r.set(&[0x40, 0x00]);
    // APCDelayBeforeReboot 0: off at once, on battery: gone, and what was queued with it
    let mut u = r.unit.lock();
    assert!(!u.present());
    assert_eq!(u.pop_interrupt(), None);
    drop(u);
    r.at(60.0);
    let mut u = r.unit.lock();
    assert_eq!(u.pop_interrupt(), Some(vec![0x16, 0x0e, 0x00]));
}

/// A unit with mains (8-bit ACPresent, report 1), DelayBeforeShutdown (2) and
/// DelayBeforeStartup (3), all Feature, both delays -1..32767.
const SMALL: &str = r#"format = "nut-hid-recording/1"

[usb]
vendor_id = "051d"
product_id = "0003"

[descriptor]
hex = """
05 84 09 04 a1 01 09 24 a1 00
85 01 05 85 09 d0 75 08 95 01 15 00 25 01 b1 a2
85 02 05 84 09 57 75 10 16 ff ff 26 ff 7f b1 a2
85 03 09 56 b1 a2
c0 c0
"""

[feature]
"0x01" = "01 01"
"0x02" = "02 ff ff"
"0x03" = "03 ff ff"
"#;

fn small(scenario: &str) -> Rig {
    Rig::new(&format!("{SMALL}{scenario}"))
}

#[test]
fn shutdown_return_on_battery_comes_back_after_the_startup_delay_once_mains_is_back() {
    let r = small(
        "[[event]]\nat_s = 1\nset = { \"UPS.PowerSummary.ACPresent\" = 0 }\n\n\
         [[event]]\nat_s = 100\nset = { \"UPS.PowerSummary.ACPresent\" = 1 }\n",
    );
    r.at(2.0);
    // NUT's shutdown.return: load.on.delay (ondelay 30) then load.off.delay (offdelay 20)
    r.set(&[0x03, 0x1e, 0x00]);
    r.set(&[0x02, 0x14, 0x00]);
    r.at(12.0);
    // the startup delay does not count while the output is on
    assert_eq!(r.get(0x03).unwrap(), [0x03, 0x1e, 0x00]);
    assert_eq!(r.get(0x02).unwrap(), [0x02, 0x0a, 0x00]);
    r.at(22.0);
    assert!(!r.unit.lock().present());
    r.at(100.0);
    assert!(r.unit.lock().present());
    assert!(!r.unit.lock().output_on());
    assert_eq!(r.get(0x03).unwrap(), [0x03, 0x1e, 0x00]);
    r.at(101.0);
    assert_eq!(r.get(0x03).unwrap(), [0x03, 0x1d, 0x00]);
    r.at(129.9);
    assert!(!r.unit.lock().output_on());
    r.at(130.0);
    assert!(r.unit.lock().output_on());
    assert_eq!(r.get(0x03).unwrap(), [0x03, 0xff, 0xff]);
    assert_eq!(r.get(0x02).unwrap(), [0x02, 0xff, 0xff]);
    assert_eq!(
        r.log(),
        [
            "SET_REPORT 0x03 03 1e 00",
            "SET_REPORT 0x02 02 14 00",
            "OUTPUT OFF",
            "UNPLUG",
            "REPLUG",
            "OUTPUT ON"
        ]
    );
}

#[test]
fn mains_back_before_the_delay_runs_out_still_turns_the_output_off_then_on() {
    let r = small(
        "[[event]]\nat_s = 1\nset = { \"UPS.PowerSummary.ACPresent\" = 0 }\n\n\
         [[event]]\nat_s = 10\nset = { \"UPS.PowerSummary.ACPresent\" = 1 }\n",
    );
    r.at(2.0);
    r.set(&[0x03, 0x05, 0x00]);
    r.set(&[0x02, 0x14, 0x00]);
    r.at(22.0);
    let u = r.unit.lock();
    assert!(u.present() && !u.output_on());
    drop(u);
    r.at(27.0);
    assert!(r.unit.lock().output_on());
    assert_eq!(r.log()[2..], ["OUTPUT OFF", "OUTPUT ON"]);
}

#[test]
fn shutdown_stayoff_stays_off_until_load_on() {
    let r = small("");
    // shutdown.stayoff: load.on.delay -1, then load.off.delay
    r.set(&[0x03, 0xff, 0xff]);
    r.set(&[0x02, 0x05, 0x00]);
    r.at(5.0);
    assert!(!r.unit.lock().output_on());
    r.at(5000.0);
    let u = r.unit.lock();
    assert!(!u.output_on() && u.present(), "off, on the bus with mains");
    assert_eq!(u.next_wake(), None);
    drop(u);
    // load.on: DelayBeforeStartup 0
    r.set(&[0x03, 0x00, 0x00]);
    assert!(r.unit.lock().output_on());
    assert_eq!(
        r.log()[2..],
        ["OUTPUT OFF", "SET_REPORT 0x03 03 00 00", "OUTPUT ON"]
    );
}

#[test]
fn vanish_is_logged_and_changes_the_generation() {
    let r = Rig::bk650("[[event]]\nat_s = 3\nfault = \"vanish\"\nduration_s = 2\n");
    r.at(3.0);
    assert!(matches!(r.get(0x0c), Err(Error::Gone)));
    assert_eq!(r.unit.lock().generation(), 1);
    r.at(5.0);
    assert_eq!(r.get(0x0c).unwrap(), [0x0c, 0x64]);
    r.unit.lock().inject(Fault::Vanish {
        for_: Duration::MAX,
    });
    assert!(!r.unit.lock().present());
    assert_eq!(r.unit.lock().next_wake(), None, "gone until told");
    r.unit.lock().inject(Fault::ComeBack);
    assert_eq!(r.unit.lock().generation(), 2);
    assert_eq!(r.log(), ["UNPLUG", "REPLUG", "UNPLUG", "REPLUG"]);
}

#[test]
fn another_serial_replaces_the_serial_string() {
    let r = Rig::bk650("");
    r.unit.lock().set_serial("OTHER");
    let u = r.unit.lock();
    assert_eq!(u.replay().string(3), Some("OTHER"));
    assert_eq!(u.replay().usb().indices.serial, Some(3));
    drop(u);
    let r = small("");
    r.unit.lock().set_serial("S2");
    let u = r.unit.lock();
    assert_eq!(u.replay().usb().indices.serial, Some(1));
    assert_eq!(u.replay().string(1), Some("S2"));
}

#[test]
fn input_and_output_reports() {
    let r = Rig::bk650("");
    let mut u = r.unit.lock();
    // the BK650M2-CH recording has no [input] answers: GET_REPORT(Input) stalls
    assert!(matches!(
        u.get_report(ReportKind::Input, 0x0c, 2),
        Err(Error::NoReport {
            kind: ReportKind::Input,
            id: 0x0c
        })
    ));
    assert_eq!(
        u.get_report(ReportKind::Feature, 0x99, 2)
            .unwrap_err()
            .to_string(),
        "GET_REPORT 0x99: not in the recording (stall)"
    );
    assert!(matches!(
        u.set_report(ReportKind::Input, &[0x0c, 1]),
        Err(Error::NotWritable { .. })
    ));
    u.set_report(ReportKind::Output, &[0x90, 0x01]).unwrap();
    assert_eq!(
        u.replay().report(ReportKind::Output, 0x90),
        Some(&[0x90, 0x01][..])
    );
    assert!(u.replay().sets().is_empty(), "sets lists Feature writes");
    drop(u);
    assert_eq!(r.log(), ["SET_REPORT Output 0x90 90 01"]);
}

/// Every stored report and every interrupt report due, in order.
fn reports_and_interrupts(r: &Rig) -> (String, Vec<Vec<u8>>) {
    let mut u = r.unit.lock();
    let reports = format!("{:?} {:?}", u.replay().feature, u.replay().input);
    let mut interrupts = Vec::new();
    while let Some(i) = u.pop_interrupt() {
        interrupts.push(i);
    }
    (reports, interrupts)
}

/// `mains off` and `mains on` (the emulator's control commands) change the BK650M2-CH exactly as
/// the power-failure scenario's events do (tests/install/power-failure.events.toml, without
/// the low-battery flag): the same reports, the same interrupt reports in the same order.
#[test]
fn a_mains_cut_and_return_are_the_scenario_events_of_a_power_failure() {
    let scenario = r#"
[[event]]
at_s = 5
set = { "UPS.PowerSummary.PresentStatus.ACPresent" = 0, "UPS.PowerSummary.PresentStatus.Discharging" = 1, "UPS.PowerSummary.PresentStatus.Charging" = 0, "UPS.PowerSummary.ACPresent" = 0 }
interrupt = true

[[event]]
at_s = 10
set = { "UPS.PowerSummary.PresentStatus.ACPresent" = 1, "UPS.PowerSummary.PresentStatus.Discharging" = 0, "UPS.PowerSummary.PresentStatus.Charging" = 1, "UPS.PowerSummary.ACPresent" = 1 }
interrupt = true
"#;
    let by_scenario = Rig::bk650(scenario);
    let by_switch = Rig::bk650("");
    for (at, present) in [(5.0, false), (10.0, true)] {
        by_scenario.at(at);
        by_switch.at(at);
        by_switch.unit.lock().set_mains(present).unwrap();
        let want = reports_and_interrupts(&by_scenario);
        assert_eq!(reports_and_interrupts(&by_switch), want, "at {at} s");
        assert!(!want.1.is_empty(), "the change is announced");
        let u = by_switch.unit.lock();
        assert_eq!(u.mains(), present);
        assert!(u.present() && u.output_on());
    }
    assert_eq!(
        reports_and_interrupts(&by_switch).1,
        Vec::<Vec<u8>>::new(),
        "announced once"
    );
}

#[test]
fn a_mains_cut_with_the_output_off_takes_the_unit_off_the_bus_and_no_acpresent_refuses() {
    let r = small("");
    // shutdown.return with offdelay 2: off after 2 s, back on mains at once
    r.set(&[0x02, 0x02, 0x00]);
    r.at(1.0);
    r.unit.lock().set_mains(false).unwrap();
    r.at(2.0);
    assert!(!r.unit.lock().present(), "no mains, no output: off the bus");
    r.unit.lock().set_mains(true).unwrap();
    assert!(r.unit.lock().present());
    assert_eq!(
        r.log(),
        [
            "SET_REPORT 0x02 02 02 00",
            "OUTPUT OFF",
            "UNPLUG",
            "REPLUG",
            "OUTPUT ON"
        ]
    );
    let no_mains = Rig::new(&SMALL.replace("05 85 09 d0", "05 85 09 d1"));
    assert_eq!(
        no_mains.unit.lock().set_mains(false).unwrap_err().to_string(),
        "the unit reports no mains (no UPS.PowerSummary.ACPresent or UPS.PowerSummary.PresentStatus.ACPresent field)"
    );
}
