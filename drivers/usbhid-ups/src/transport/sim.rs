//! A simulated UPS as a [`Device`]: a thin adapter over [`nut_hid_sim::Unit`], the unit model
//! the emulator shares: the recording's `[[event]]` scenario on a clock, fault injection, and
//! the APC output and power model (a written delay counts down and turns the output off; with
//! no mains the unit leaves the bus until mains is back). Usage paths are named with
//! [`crate::apc::usage_table`].
//!
//! Faults ([`SimDevice::inject`], or the `fault` event extension documented in
//! [`nut_hid_recording`]):
//! * [`Fault::Vanish`]: the unit is unplugged for a while. Every handle opened before answers
//!   [`DeviceError::Disconnected`] for good (as a dead hidraw node does), interrupts are lost,
//!   [`SimDevice::reopen`] fails until the time is over, then gives a working handle to the
//!   same unit (same reports, same scenario clock). A power-off of the unit does the same.
//! * [`Fault::FailReads`]: the next `count` GET_REPORTs fail ([`DeviceError::Failed`], a STALL).
//! * [`Fault::ComeBack`]: ends a vanish now.
//!
//! The ups.conf key `simlog = <path>` (passed by the backend to [`SimDevice::log_sets_to`])
//! appends one line per SET_REPORT, `SET_REPORT 0x15 15 3c 00`, and one per transition of the
//! unit (`OUTPUT OFF`, `UNPLUG`, `REPLUG`, `OUTPUT ON`), for tests of the driver binary.

use std::path::Path;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use nut_hid::ReportKind;
use nut_hid_recording::Recording;
use nut_hid_sim::{State, Unit};

use crate::device::{Device, DeviceError, Identity};
use crate::transport::replay::{device_error, identity_of, Clock, SystemClock};
use crate::Error;

pub use nut_hid_sim::Fault;

/// A handle to a simulated unit. Clones share the unit (and die together on a vanish).
#[derive(Debug, Clone)]
pub struct SimDevice {
    unit: Unit,
    identity: Identity,
    generation: u64,
}

impl SimDevice {
    /// Simulates `rec` in real time; the scenario starts now.
    pub fn new(rec: &Recording, origin: &str) -> Result<Self, Error> {
        Self::with_clock(rec, origin, Arc::new(SystemClock::new()))
    }

    /// Simulates `rec` on `clock`. `origin` names the recording in errors.
    pub fn with_clock(rec: &Recording, origin: &str, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let unit = Unit::with_clock(rec, origin, &crate::apc::usage_table(), clock)?;
        Ok(SimDevice {
            unit,
            identity: identity_of(rec),
            generation: 0,
        })
    }

    /// The unit with the scenario run up to now, if this handle is alive.
    fn live(&self) -> Result<MutexGuard<'_, State>, DeviceError> {
        let u = self.unit.lock();
        if !u.present() || u.generation() != self.generation {
            return Err(DeviceError::Disconnected(
                "simulated unit unplugged".to_string(),
            ));
        }
        Ok(u)
    }

    /// Appends every SET_REPORT to `path` (the `simlog` ups.conf key).
    pub fn log_sets_to(&self, path: &Path) -> std::io::Result<()> {
        self.unit.lock().log_to(path)
    }

    /// Injects a fault now.
    pub fn inject(&self, fault: Fault) {
        self.unit.lock().inject(fault);
    }

    /// Opens the unit again (after a vanish): fails while it is unplugged.
    pub fn reopen(&self) -> Result<SimDevice, DeviceError> {
        let u = self.unit.lock();
        if !u.present() {
            return Err(DeviceError::Disconnected(
                "simulated unit still unplugged".to_string(),
            ));
        }
        Ok(SimDevice {
            unit: self.unit.clone(),
            identity: self.identity.clone(),
            generation: u.generation(),
        })
    }

    /// Every SET_REPORT the unit received (time since start, bytes), whatever the handle.
    pub fn sets(&self) -> Vec<(Duration, Vec<u8>)> {
        self.unit.lock().replay().sets().to_vec()
    }

    /// Current bytes of Feature report `id` (scenario applied up to now).
    pub fn feature_report(&self, id: u8) -> Option<Vec<u8>> {
        let u = self.unit.lock();
        u.replay()
            .report(ReportKind::Feature, id)
            .map(<[u8]>::to_vec)
    }

    /// Current bytes of Input report `id` (scenario applied up to now).
    pub fn input_report(&self, id: u8) -> Option<Vec<u8>> {
        let u = self.unit.lock();
        u.replay().report(ReportKind::Input, id).map(<[u8]>::to_vec)
    }

    /// Time since the unit was created.
    pub fn elapsed(&self) -> Duration {
        self.unit.lock().elapsed()
    }
}

impl Device for SimDevice {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        Ok(self.live()?.replay().descriptor().to_vec())
    }

    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        self.live()?
            .get_report(ReportKind::Feature, id, len)
            .map_err(device_error)
    }

    fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError> {
        self.live()?
            .set_report(ReportKind::Feature, report)
            .map_err(device_error)
    }

    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        let (clock, deadline) = {
            let u = self.live()?;
            let clock = u.replay().clock().clone();
            let deadline = clock.now().saturating_add(timeout);
            (clock, deadline)
        };
        loop {
            let wake = {
                let mut u = self.live()?;
                let now = clock.now();
                if let Some(r) = u.pop_interrupt() {
                    return Ok(Some(r));
                }
                if now >= deadline {
                    return Ok(None);
                }
                let wake = u.next_wake().map_or(deadline, |w| w.min(deadline));
                // Short slices, so a fault injected from another thread is seen soon.
                wake.saturating_sub(now)
                    .clamp(Duration::from_millis(1), Duration::from_millis(20))
            };
            clock.sleep(wake);
        }
    }

    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        Ok(self.live()?.replay().string(index).map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::BK650;
    use crate::transport::replay::ManualClock;
    use nut_hid::Field;
    const SCENARIO: &str = "
[[event]]
at_s = 5
set = { \"UPS.PowerSummary.PresentStatus.ACPresent\" = 0, \"UPS.PowerSummary.PresentStatus.Discharging\" = 1 }
interrupt = true

[[event]]
at_s = 10
set = { \"UPS.PowerSummary.RemainingCapacity\" = 42, \"UPS.PowerSummary.RunTimeToEmpty\" = 600 }
interrupt = true

[[event]]
at_s = 20
set = { \"UPS.PowerSummary.PresentStatus.ACPresent\" = 1, \"UPS.PowerSummary.PresentStatus.Discharging\" = 0, \"UPS.PowerSummary.PresentStatus.Charging\" = 1 }
interrupt = true
";

    fn sim(extra: &str) -> (SimDevice, Arc<ManualClock>) {
        let rec = Recording::parse(&format!("{BK650}{extra}"), "scenario").unwrap();
        let clock = ManualClock::new();
        (
            SimDevice::with_clock(&rec, "scenario", clock.clone()).unwrap(),
            clock,
        )
    }

    fn field(path: &str, kind: ReportKind) -> Field {
        let rec = Recording::parse(BK650, "bk650").unwrap();
        let desc = nut_hid::parse(&rec.descriptor).unwrap();
        let p = crate::apc::usage_table().parse_path(path).unwrap();
        desc.find(&p, kind).unwrap().clone()
    }

    /// Drains the recorded interrupts of the BK650M2-CH (the first 431 ms).
    fn skip_recorded(d: &mut SimDevice) {
        for _ in 0..3 {
            assert!(d.read_interrupt(Duration::from_secs(1)).unwrap().is_some());
        }
    }

    #[test]
    fn mains_lost_event_changes_input_report_and_sends_it() {
        let (mut d, clock) = sim(SCENARIO);
        skip_recorded(&mut d);
        let ac = field(
            "UPS.PowerSummary.PresentStatus.ACPresent",
            ReportKind::Input,
        );
        let dis = field(
            "UPS.PowerSummary.PresentStatus.Discharging",
            ReportKind::Input,
        );
        // Nothing before 5 s.
        assert_eq!(d.read_interrupt(Duration::from_secs(4)).unwrap(), None);
        let r = d.read_interrupt(Duration::from_secs(2)).unwrap().unwrap();
        assert_eq!(d.elapsed(), Duration::from_secs(5));
        // 16 0e 00: ACPresent (bit 2) cleared, Discharging (bit 1) set.
        assert_eq!(r, vec![0x16, 0x0a, 0x00]);
        assert_eq!(ac.extract(&r), Some(0));
        assert_eq!(dis.extract(&r), Some(1));
        // The Feature report of the same id changed too, and GET_REPORT shows it.
        let fac = field(
            "UPS.PowerSummary.PresentStatus.ACPresent",
            ReportKind::Feature,
        );
        let got = d.get_feature(0x16, 5).unwrap();
        assert_eq!(got, vec![0x16, 0x0a, 0x00]);
        assert_eq!(fac.extract(&got), Some(0));

        // At 10 s: only RemainingCapacity has an Input field; RunTimeToEmpty is Feature-only.
        let r1 = d.read_interrupt(Duration::from_secs(6)).unwrap().unwrap();
        assert_eq!(r1, vec![0x0c, 42]);
        assert_eq!(d.read_interrupt(Duration::ZERO).unwrap(), None);
        assert_eq!(d.get_feature(0x0c, 2).unwrap(), vec![0x0c, 42]);
        assert_eq!(d.get_feature(0x0f, 3).unwrap(), vec![0x0f, 0x58, 0x02]);

        clock.advance(Duration::from_secs(30));
        let r = d.read_interrupt(Duration::ZERO).unwrap().unwrap();
        assert_eq!(r, vec![0x16, 0x0d, 0x00]);
        assert_eq!(d.read_interrupt(Duration::ZERO).unwrap(), None);
    }

    #[test]
    fn power_failure_scenario_file() {
        let text = include_str!("../../tests/data/back-ups-bk650m2-ch.power-failure.toml");
        let rec = Recording::parse(text, "pf").unwrap();
        let clock = ManualClock::new();
        let mut d = SimDevice::with_clock(&rec, "pf", clock).unwrap();
        skip_recorded(&mut d);
        let mut got = Vec::new();
        while let Some(r) = d.read_interrupt(Duration::from_secs(30)).unwrap() {
            got.push((d.elapsed().as_secs_f64(), r));
        }
        assert_eq!(
            got,
            vec![
                // Mains lost: PresentStatus (0x16) then PowerSummary.ACPresent (0x13), in the
                // order of the `set` table.
                (5.0, vec![0x16, 0x0a, 0x00]),
                (5.0, vec![0x13, 0x00]),
                (10.0, vec![0x0c, 80]),
                (15.0, vec![0x0c, 50]),
                (20.0, vec![0x0c, 25]),
                // Low battery.
                (25.0, vec![0x0c, 9]),
                (25.0, vec![0x14, 0x01]),
                // Mains back: charging.
                (30.0, vec![0x16, 0x0d, 0x00]),
                (30.0, vec![0x13, 0x01]),
                (30.0, vec![0x14, 0x00]),
                (40.0, vec![0x0c, 30]),
                (60.0, vec![0x0c, 60]),
            ]
        );
        let ac = field(
            "UPS.PowerSummary.PresentStatus.ACPresent",
            ReportKind::Input,
        );
        let chrg = field("UPS.PowerSummary.PresentStatus.Charging", ReportKind::Input);
        assert_eq!(ac.extract(&got[7].1), Some(1));
        assert_eq!(chrg.extract(&got[7].1), Some(1));
        // Feature-only runtimes follow too (last value: 1800 s).
        assert_eq!(d.get_feature(0x23, 3).unwrap(), vec![0x23, 0x08, 0x07]);
        assert_eq!(d.get_feature(0x0f, 3).unwrap(), vec![0x0f, 0x08, 0x07]);
    }

    #[test]
    fn short_answer_is_extended_for_the_field() {
        let text = BK650.replace("\"0x0f\" = \"0f 22 0e\"", "\"0x0f\" = \"0f\"");
        let text = format!(
            "{text}[[event]]\nat_s = 1\nset = {{ \"UPS.PowerSummary.RunTimeToEmpty\" = 600 }}\n"
        );
        let rec = Recording::parse(&text, "short").unwrap();
        let clock = ManualClock::new();
        let mut d = SimDevice::with_clock(&rec, "short", clock.clone()).unwrap();
        assert_eq!(d.get_feature(0x0f, 3).unwrap(), vec![0x0f]);
        clock.advance(Duration::from_secs(1));
        assert_eq!(d.get_feature(0x0f, 3).unwrap(), vec![0x0f, 0x58, 0x02]);
        // Feature-only: no Input report appeared.
        assert_eq!(d.input_report(0x0f), None);
    }

    #[test]
    fn unknown_path_is_an_error_with_line() {
        let rec = Recording::parse(
            &format!("{BK650}\n[[event]]\nat_s = 1\nset = {{ \"UPS.PowerSummary.Nope\" = 1 }}\n"),
            "s.toml",
        )
        .unwrap();
        let e = SimDevice::with_clock(&rec, "s.toml", ManualClock::new()).unwrap_err();
        let lines = BK650.lines().count();
        assert!(
            matches!(&e, Error::Simulation(nut_hid_sim::Error::EventPath { line, .. }) if *line == lines + 2),
            "{e}"
        );
        let rec = Recording::parse(
            &format!("{BK650}\n[[event]]\nat_s = 1\nset = {{ \"UPS.PowerSummary\" = 1 }}\n"),
            "s.toml",
        )
        .unwrap();
        assert!(SimDevice::with_clock(&rec, "s.toml", ManualClock::new()).is_err());
    }

    #[test]
    fn vanish_then_reopen() {
        let (mut d, clock) = sim("");
        assert!(d.get_feature(0x0c, 2).is_ok());
        d.inject(Fault::Vanish {
            for_: Duration::from_secs(2),
        });
        assert!(matches!(
            d.get_feature(0x0c, 2),
            Err(DeviceError::Disconnected(_))
        ));
        assert!(matches!(
            d.read_interrupt(Duration::from_millis(10)),
            Err(DeviceError::Disconnected(_))
        ));
        assert!(matches!(d.reopen(), Err(DeviceError::Disconnected(_))));
        clock.advance(Duration::from_secs(2));
        // The old handle stays dead, a new one works on the same unit.
        assert!(matches!(
            d.get_feature(0x0c, 2),
            Err(DeviceError::Disconnected(_))
        ));
        let mut d2 = d.reopen().unwrap();
        assert_eq!(d2.get_feature(0x0c, 2).unwrap(), vec![0x0c, 0x64]);
        assert_eq!(d2.identity().serial.as_deref(), Some("9B2019A14274"));
        // Interrupts queued before the unplug were lost.
        assert_eq!(d2.read_interrupt(Duration::ZERO).unwrap(), None);
    }

    #[test]
    fn vanish_until_come_back_and_fail_reads() {
        let (d, clock) = sim("");
        d.inject(Fault::Vanish {
            for_: Duration::MAX,
        });
        clock.advance(Duration::from_secs(3600));
        assert!(d.reopen().is_err());
        d.inject(Fault::ComeBack);
        let mut d = d.reopen().unwrap();
        d.inject(Fault::FailReads { count: 2 });
        for _ in 0..2 {
            assert!(matches!(
                d.get_feature(0x0c, 2),
                Err(DeviceError::Failed(_))
            ));
        }
        assert_eq!(d.get_feature(0x0c, 2).unwrap(), vec![0x0c, 0x64]);
    }

    #[test]
    fn scenario_faults() {
        let (mut d, clock) = sim(
            "[[event]]\nat_s = 3\nfault = \"vanish\"\nduration_s = 2\n\n[[event]]\nat_s = 6\nfault = \"fail_reads\"\ncount = 1\n",
        );
        clock.advance(Duration::from_secs(3));
        assert!(matches!(
            d.get_feature(0x0c, 2),
            Err(DeviceError::Disconnected(_))
        ));
        clock.advance(Duration::from_millis(1999));
        assert!(d.reopen().is_err());
        clock.advance(Duration::from_millis(1));
        let mut d = d.reopen().unwrap();
        assert!(d.get_feature(0x0c, 2).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(matches!(
            d.get_feature(0x0c, 2),
            Err(DeviceError::Failed(_))
        ));
        assert!(d.get_feature(0x0c, 2).is_ok());
    }

    #[test]
    fn sets_are_recorded_with_time_and_logged() {
        let (mut d, clock) = sim("");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("simlog");
        d.log_sets_to(&log).unwrap();
        clock.advance(Duration::from_millis(2500));
        d.set_feature(&[0x15, 0x14, 0x00]).unwrap();
        assert_eq!(
            d.sets(),
            vec![(Duration::from_millis(2500), vec![0x15, 0x14, 0x00])]
        );
        assert_eq!(d.get_feature(0x15, 3).unwrap(), vec![0x15, 0x14, 0x00]);
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "SET_REPORT 0x15 15 14 00\n"
        );
    }
}
