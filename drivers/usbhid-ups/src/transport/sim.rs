//! A simulated UPS: a [`ReplayDevice`] whose reports change over time as the recording's
//! `[[event]]` scenario says, plus fault injection for the recovery tests.
//!
//! At `at_s` seconds after the unit was created, every `set` path is resolved to the Feature
//! AND Input fields of the descriptor with exactly that path (names from
//! [`crate::apc::usage_table`]); the logical value is written into the stored report bytes with
//! [`nut_hid::Field::insert`] (a short recorded answer is zero-extended to what the field
//! needs; an Input report never recorded starts from the Feature report of the same id). With
//! `interrupt = true` the changed Input reports are sent on the interrupt pipe, in the order
//! their first field appears in `set` (file order).
//!
//! Faults ([`SimDevice::inject`], or the `fault` event extension documented in
//! [`nut_hid_recording`]):
//! * [`Fault::Vanish`]: the unit is unplugged for a while. Every handle opened before answers
//!   [`DeviceError::Disconnected`] for good (as a dead hidraw node does), interrupts are lost,
//!   [`SimDevice::reopen`] fails until the time is over, then gives a working handle to the
//!   same unit (same reports, same scenario clock).
//! * [`Fault::FailReads`]: the next `count` GET_REPORTs fail ([`DeviceError::Failed`], a STALL).
//! * [`Fault::ComeBack`]: ends a vanish now.
//!
//! The ups.conf key `simlog = <path>` (passed by the backend to [`SimDevice::log_sets_to`])
//! appends one line per SET_REPORT, `SET_REPORT 0x15 15 3c 00`, for tests of the driver binary.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nut_hid::{Field, ReportKind};

use crate::device::{Device, DeviceError, Identity};
use crate::transport::replay::{Clock, ReplayDevice, SystemClock};
use crate::Error;
use nut_hid_recording::{FaultSpec, Recording};

/// A fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Unplugged for a while.
    Vanish {
        /// How long (`Duration::MAX`: until [`Fault::ComeBack`]).
        for_: Duration,
    },
    /// GET_REPORTs fail like a STALL.
    FailReads {
        /// How many.
        count: u32,
    },
    /// Plugged back in now.
    ComeBack,
}

#[derive(Debug)]
struct Step {
    at: Duration,
    /// (fields with that path, logical value)
    sets: Vec<(Vec<Field>, i64)>,
    interrupt: bool,
    fault: Option<Fault>,
}

#[derive(Debug)]
struct Unit {
    dev: ReplayDevice,
    steps: Vec<Step>,
    next_step: usize,
    /// Unplugged until this clock time.
    gone_until: Option<Duration>,
    /// Bumped at each unplug: handles of an older generation are dead.
    generation: u64,
    fail_reads: u32,
}

impl Unit {
    /// Applies the scenario up to `now`.
    fn advance(&mut self, now: Duration) {
        if self.gone_until.is_some_and(|t| now >= t) {
            self.gone_until = None;
        }
        while let Some(step) = self.steps.get(self.next_step) {
            let at = self.dev.start.saturating_add(step.at);
            if at > now {
                break;
            }
            self.next_step += 1;
            let interrupt = step.interrupt;
            let fault = step.fault;
            let sets: Vec<(Vec<Field>, i64)> = step.sets.clone();
            let mut touched_inputs: Vec<u8> = Vec::new();
            for (fields, value) in &sets {
                for f in fields {
                    let (store, other) = match f.kind {
                        ReportKind::Input => (&mut self.dev.input, &self.dev.feature),
                        _ => (&mut self.dev.feature, &self.dev.input),
                    };
                    let id = f.report_id;
                    let report = store
                        .entry(id)
                        .or_insert_with(|| other.get(&id).cloned().unwrap_or_else(|| vec![id]));
                    if report.len() < f.needed_len() {
                        report.resize(f.needed_len(), 0);
                    }
                    if let Err(e) = f.insert(report, *value) {
                        tracing::warn!("simulator: {e}");
                    }
                    if f.kind == ReportKind::Input && !touched_inputs.contains(&id) {
                        touched_inputs.push(id);
                    }
                }
            }
            if interrupt && self.gone_until.is_none() {
                for id in touched_inputs {
                    if let Some(r) = self.dev.input.get(&id).cloned() {
                        self.dev.queue_interrupt(at, r);
                    }
                }
            }
            if let Some(f) = fault {
                self.apply(f, at);
            }
        }
    }

    fn apply(&mut self, fault: Fault, at: Duration) {
        match fault {
            Fault::Vanish { for_ } => {
                self.gone_until = Some(at.saturating_add(for_));
                self.generation += 1;
                self.dev.pending.clear();
            }
            Fault::FailReads { count } => self.fail_reads = self.fail_reads.saturating_add(count),
            Fault::ComeBack => self.gone_until = None,
        }
    }

    fn gone(&self) -> bool {
        self.gone_until.is_some()
    }
}

/// A handle to a simulated unit. Clones share the unit (and die together on a vanish).
#[derive(Debug, Clone)]
pub struct SimDevice {
    unit: Arc<Mutex<Unit>>,
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
        let desc = nut_hid::parse(&rec.descriptor)?;
        let table = crate::apc::usage_table();
        let mut steps = Vec::new();
        for ev in &rec.events {
            let mut sets = Vec::new();
            for (path, value) in &ev.set {
                let err = |reason: String| Error::EventPath {
                    origin: origin.to_string(),
                    line: ev.line,
                    path: path.clone(),
                    reason,
                };
                let p = table.parse_path(path).map_err(|e| err(e.to_string()))?;
                let fields: Vec<Field> = desc
                    .fields()
                    .iter()
                    .filter(|f| f.path == p && f.kind != ReportKind::Output)
                    .cloned()
                    .collect();
                if fields.is_empty() {
                    return Err(err("no Feature or Input field has this path".into()));
                }
                sets.push((fields, *value));
            }
            let fault = ev.fault.map(|f| match f {
                FaultSpec::Vanish { duration_s } => Fault::Vanish {
                    for_: duration_s
                        .and_then(|s| Duration::try_from_secs_f64(s).ok())
                        .unwrap_or(Duration::MAX),
                },
                FaultSpec::FailReads { count } => Fault::FailReads { count },
                FaultSpec::ComeBack => Fault::ComeBack,
            });
            steps.push(Step {
                at: Duration::try_from_secs_f64(ev.at_s).unwrap_or(Duration::MAX),
                sets,
                interrupt: ev.interrupt,
                fault,
            });
        }
        // Stable: events at the same time keep their file order.
        steps.sort_by_key(|s| s.at);
        let dev = ReplayDevice::with_clock(rec, clock);
        let identity = dev.identity().clone();
        let unit = Unit {
            dev,
            steps,
            next_step: 0,
            gone_until: None,
            generation: 0,
            fail_reads: 0,
        };
        Ok(SimDevice {
            unit: Arc::new(Mutex::new(unit)),
            identity,
            generation: 0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Unit> {
        self.unit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks, runs the scenario up to now, and checks this handle is alive.
    fn live(&self) -> Result<MutexGuard<'_, Unit>, DeviceError> {
        let mut u = self.lock();
        let now = u.dev.clock.now();
        u.advance(now);
        if u.gone() || u.generation != self.generation {
            return Err(DeviceError::Disconnected(
                "simulated unit unplugged".to_string(),
            ));
        }
        Ok(u)
    }

    /// Appends every SET_REPORT to `path` (the `simlog` ups.conf key).
    pub fn log_sets_to(&self, path: &Path) -> std::io::Result<()> {
        self.lock().dev.log_sets_to(path)
    }

    /// Injects a fault now.
    pub fn inject(&self, fault: Fault) {
        let mut u = self.lock();
        let now = u.dev.clock.now();
        u.advance(now);
        u.apply(fault, now);
    }

    /// Opens the unit again (after a vanish): fails while it is unplugged.
    pub fn reopen(&self) -> Result<SimDevice, DeviceError> {
        let mut u = self.lock();
        let now = u.dev.clock.now();
        u.advance(now);
        if u.gone() {
            return Err(DeviceError::Disconnected(
                "simulated unit still unplugged".to_string(),
            ));
        }
        Ok(SimDevice {
            unit: self.unit.clone(),
            identity: self.identity.clone(),
            generation: u.generation,
        })
    }

    /// Every SET_REPORT the unit received (time since start, bytes), whatever the handle.
    pub fn sets(&self) -> Vec<(Duration, Vec<u8>)> {
        self.lock().dev.sets().to_vec()
    }

    /// Current bytes of Feature report `id` (scenario applied up to now).
    pub fn feature_report(&self, id: u8) -> Option<Vec<u8>> {
        let mut u = self.lock();
        let now = u.dev.clock.now();
        u.advance(now);
        u.dev.feature.get(&id).cloned()
    }

    /// Current bytes of Input report `id` (scenario applied up to now).
    pub fn input_report(&self, id: u8) -> Option<Vec<u8>> {
        let mut u = self.lock();
        let now = u.dev.clock.now();
        u.advance(now);
        u.dev.input.get(&id).cloned()
    }

    /// Time since the unit was created.
    pub fn elapsed(&self) -> Duration {
        self.lock().dev.elapsed()
    }
}

impl Device for SimDevice {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        self.live()?.dev.report_descriptor()
    }

    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        let mut u = self.live()?;
        if u.fail_reads > 0 {
            u.fail_reads -= 1;
            return Err(DeviceError::Failed(format!(
                "GET_REPORT 0x{id:02x}: injected failure"
            )));
        }
        u.dev.get_feature(id, len)
    }

    fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError> {
        self.live()?.dev.set_feature(report)
    }

    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        let (clock, deadline) = {
            let u = self.live()?;
            let clock = u.dev.clock.clone();
            let deadline = clock.now().saturating_add(timeout);
            (clock, deadline)
        };
        loop {
            let wake = {
                let mut u = self.live()?;
                let now = clock.now();
                if let Some(r) = u.dev.pop_due(now) {
                    return Ok(Some(r));
                }
                if now >= deadline {
                    return Ok(None);
                }
                let mut wake = deadline;
                if let Some(d) = u.dev.next_due() {
                    wake = wake.min(d);
                }
                if let Some(s) = u.steps.get(u.next_step) {
                    wake = wake.min(u.dev.start.saturating_add(s.at));
                }
                // Short slices, so a fault injected from another thread is seen soon.
                wake.saturating_sub(now)
                    .clamp(Duration::from_millis(1), Duration::from_millis(20))
            };
            clock.sleep(wake);
        }
    }

    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        self.live()?.dev.string(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::BK650;
    use crate::transport::replay::ManualClock;
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
            matches!(&e, Error::EventPath { line, .. } if *line == lines + 2),
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
