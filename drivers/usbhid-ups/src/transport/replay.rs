//! Replay of a [`Recording`] as a [`Device`]: GET_REPORT answers exactly as recorded (an absent
//! id fails like a STALL), strings by index, identity from `[usb]` and its indices, the
//! `[[interrupt]]` reports at their recorded delays. A delivered interrupt report also becomes
//! the answer to GET_REPORT of its id when the recorded answer has the same length, as a unit's
//! Feature report shows the state its Input report announced (so a poll after a recorded
//! event reads the new state, not the state of the snapshot). SET_REPORTs are accepted, stored (a later
//! GET of that id returns what was written, as a real unit reflects writes), kept in a list a
//! test can read ([`ReplayDevice::sets`]) and optionally appended to a log file
//! (`SET_REPORT 0x15 15 3c 00` per line) so a test of the driver binary can check them.
//!
//! Time comes from a [`Clock`], so tests run on a [`ManualClock`] without sleeping.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::device::{Device, DeviceError, Identity};
use nut_hid_recording::{hex_string, Recording};

/// Where a replayed or simulated device gets its time from.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time since an arbitrary, fixed origin.
    fn now(&self) -> Duration;
    /// Let `d` pass (a real clock sleeps; a manual clock just moves forward).
    fn sleep(&self, d: Duration);
}

/// Wall-clock time, optionally sped up (`speed` 10 = a 60 s scenario plays in 6 s).
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
    speed: f64,
}

impl SystemClock {
    /// Real time.
    pub fn new() -> Self {
        Self::with_speed(1.0)
    }

    /// A clock running `speed` times faster than real time (non-positive or non-finite: 1).
    pub fn with_speed(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        SystemClock {
            origin: Instant::now(),
            speed,
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed().mul_f64(self.speed)
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d.div_f64(self.speed));
    }
}

/// A clock that only moves when told to (or when a device "sleeps" on it): for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Mutex<Duration>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(ManualClock::default())
    }

    /// Move forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(d);
    }

    /// Jump to `t`.
    pub fn set(&self, t: Duration) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep(&self, d: Duration) {
        self.advance(d);
    }
}

/// The identity a recording describes (strings resolved through `[usb.indices]`).
pub fn identity_of(rec: &Recording) -> Identity {
    let string = |i: Option<u8>| i.and_then(|i| rec.strings.get(&i).cloned());
    Identity {
        vendor_id: rec.usb.vendor_id,
        product_id: rec.usb.product_id,
        bcd_device: rec.usb.bcd_device,
        manufacturer: string(rec.usb.indices.manufacturer),
        product: string(rec.usb.indices.product),
        serial: string(rec.usb.indices.serial),
        bus: rec.usb.bus.clone(),
        device: None,
        port: rec.usb.port.clone(),
    }
}

/// A recording played back as a device.
#[derive(Debug)]
pub struct ReplayDevice {
    identity: Identity,
    descriptor: Vec<u8>,
    strings: BTreeMap<u8, String>,
    /// Current Feature report contents by id (recorded, then as written).
    pub(crate) feature: BTreeMap<u8, Vec<u8>>,
    /// Current Input report contents by id (the simulator changes them).
    pub(crate) input: BTreeMap<u8, Vec<u8>>,
    /// Interrupt reports not yet delivered, with their due time on the clock, in order, and
    /// whether they come from the recording's `[[interrupt]]` list (not from a simulation).
    pub(crate) pending: VecDeque<(Duration, Vec<u8>, bool)>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Clock time when the device was opened.
    pub(crate) start: Duration,
    sets: Vec<(Duration, Vec<u8>)>,
    log: Option<File>,
}

impl ReplayDevice {
    /// Replays `rec` in real time.
    pub fn new(rec: &Recording) -> Self {
        Self::with_clock(rec, Arc::new(SystemClock::new()))
    }

    /// Replays `rec` on `clock`; interrupt delays count from now.
    pub fn with_clock(rec: &Recording, clock: Arc<dyn Clock>) -> Self {
        let start = clock.now();
        let mut due = start;
        let pending = rec
            .interrupts
            .iter()
            .map(|i| {
                due = due.saturating_add(Duration::from_millis(i.after_ms));
                (due, i.report.clone(), true)
            })
            .collect();
        ReplayDevice {
            identity: identity_of(rec),
            descriptor: rec.descriptor.clone(),
            strings: rec.strings.clone(),
            feature: rec.feature.clone(),
            input: rec.input.clone(),
            pending,
            clock,
            start,
            sets: Vec::new(),
            log: None,
        }
    }

    /// Also append every SET_REPORT to `path` (`SET_REPORT 0x15 15 3c 00`), flushed per line.
    pub fn log_sets_to(&mut self, path: &Path) -> io::Result<()> {
        self.log = Some(OpenOptions::new().create(true).append(true).open(path)?);
        Ok(())
    }

    /// Every SET_REPORT received: time since the device was opened, and the bytes.
    pub fn sets(&self) -> &[(Duration, Vec<u8>)] {
        &self.sets
    }

    /// Time since the device was opened.
    pub fn elapsed(&self) -> Duration {
        self.clock.now().saturating_sub(self.start)
    }

    /// Queues a simulated interrupt report due at `due`, after those due at the same time or
    /// earlier. (The simulation has already put its values into the reports.)
    pub(crate) fn queue_interrupt(&mut self, due: Duration, report: Vec<u8>) {
        let at = self.pending.partition_point(|(d, _, _)| *d <= due);
        self.pending.insert(at, (due, report, false));
    }

    /// The first interrupt report due at `now`, if any. A recorded one also becomes the
    /// GET_REPORT answer of its id (same length only).
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<Vec<u8>> {
        if self.pending.front().is_none_or(|(d, _, _)| *d > now) {
            return None;
        }
        let (_, report, recorded) = self.pending.pop_front()?;
        if recorded {
            if let Some(answer) = report.first().and_then(|id| self.feature.get_mut(id)) {
                if answer.len() == report.len() {
                    answer.clone_from(&report);
                }
            }
        }
        Some(report)
    }

    pub(crate) fn next_due(&self) -> Option<Duration> {
        self.pending.front().map(|(d, _, _)| *d)
    }
}

impl Device for ReplayDevice {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        Ok(self.descriptor.clone())
    }

    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        match self.feature.get(&id) {
            Some(answer) if len > 0 => Ok(answer[..answer.len().min(len)].to_vec()),
            Some(_) => Err(DeviceError::Failed(format!(
                "GET_REPORT 0x{id:02x} asked for 0 bytes"
            ))),
            None => Err(DeviceError::Failed(format!(
                "GET_REPORT 0x{id:02x}: not in the recording (stall)"
            ))),
        }
    }

    fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError> {
        let Some(&id) = report.first() else {
            return Err(DeviceError::Failed("empty SET_REPORT".into()));
        };
        let at = self.elapsed();
        if let Some(log) = &mut self.log {
            let line = format!("SET_REPORT 0x{id:02x} {}\n", hex_string(report));
            if let Err(e) = log.write_all(line.as_bytes()).and_then(|()| log.flush()) {
                tracing::warn!("cannot write the SET_REPORT log: {e}");
            }
        }
        self.sets.push((at, report.to_vec()));
        self.feature.insert(id, report.to_vec());
        Ok(())
    }

    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        let deadline = self.clock.now().saturating_add(timeout);
        loop {
            let now = self.clock.now();
            if let Some(r) = self.pop_due(now) {
                return Ok(Some(r));
            }
            if now >= deadline {
                return Ok(None);
            }
            let wake = self.next_due().map_or(deadline, |d| d.min(deadline));
            self.clock
                .sleep(wake.saturating_sub(now).max(Duration::from_millis(1)));
        }
    }

    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        Ok(self.strings.get(&index).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{bk650m2, BK650};

    fn device() -> (ReplayDevice, Arc<ManualClock>) {
        let rec = Recording::parse(BK650, "bk650").unwrap();
        let clock = ManualClock::new();
        clock.set(Duration::from_secs(100));
        (ReplayDevice::with_clock(&rec, clock.clone()), clock)
    }

    #[test]
    fn identity_and_strings() {
        let (mut d, _) = device();
        assert_eq!(
            d.identity(),
            &Identity {
                product: Some("BK650M2-CH".into()),
                bus: None,
                device: None,
                port: None,
                ..bk650m2()
            }
        );
        assert_eq!(d.string(4).unwrap().as_deref(), Some("PbAc"));
        assert_eq!(d.string(6).unwrap(), None);
        assert_eq!(d.string(0).unwrap(), None);
        assert_eq!(d.report_descriptor().unwrap().len(), 743);
    }

    #[test]
    fn get_report_answers_as_recorded() {
        let (mut d, _) = device();
        // Short answer kept short, even when more is asked.
        assert_eq!(d.get_feature(0x20, 33).unwrap(), vec![0x20, 0x21, 0x2a]);
        assert_eq!(d.get_feature(0x0c, 2).unwrap(), vec![0x0c, 0x64]);
        // Never more than asked.
        assert_eq!(d.get_feature(0xe3, 3).unwrap(), vec![0xe3, 0, 0]);
        // Absent id: a stall, the device stays.
        assert!(matches!(
            d.get_feature(0x99, 5),
            Err(DeviceError::Failed(_))
        ));
        assert!(matches!(
            d.get_feature(0x0c, 0),
            Err(DeviceError::Failed(_))
        ));
    }

    #[test]
    fn set_report_is_stored_logged_and_listed() {
        let (mut d, clock) = device();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sets.log");
        d.log_sets_to(&log).unwrap();
        clock.advance(Duration::from_millis(1500));
        d.set_feature(&[0x15, 0x3c, 0x00]).unwrap();
        d.set_feature(&[0x18, 0x02]).unwrap();
        assert_eq!(d.get_feature(0x15, 3).unwrap(), vec![0x15, 0x3c, 0x00]);
        assert_eq!(
            d.sets(),
            &[
                (Duration::from_millis(1500), vec![0x15, 0x3c, 0x00]),
                (Duration::from_millis(1500), vec![0x18, 0x02])
            ]
        );
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "SET_REPORT 0x15 15 3c 00\nSET_REPORT 0x18 18 02\n"
        );
        assert!(matches!(d.set_feature(&[]), Err(DeviceError::Failed(_))));
    }

    #[test]
    fn interrupts_replayed_on_time() {
        let (mut d, clock) = device();
        // Due at +103 ms: a 50 ms wait gets nothing, and takes 50 ms.
        assert_eq!(d.read_interrupt(Duration::from_millis(50)).unwrap(), None);
        assert_eq!(d.elapsed(), Duration::from_millis(50));
        assert_eq!(
            d.read_interrupt(Duration::from_millis(750)).unwrap(),
            Some(vec![0x16, 0x0e, 0x00])
        );
        assert_eq!(d.elapsed(), Duration::from_millis(103));
        assert_eq!(
            d.read_interrupt(Duration::from_millis(750)).unwrap(),
            Some(vec![0x0c, 0x64])
        );
        assert_eq!(d.elapsed(), Duration::from_millis(271));
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            d.read_interrupt(Duration::ZERO).unwrap(),
            Some(vec![0x16, 0x0e, 0x00])
        );
        assert_eq!(d.read_interrupt(Duration::from_millis(750)).unwrap(), None);
    }

    #[test]
    fn a_delivered_interrupt_report_is_the_new_get_report_answer() {
        let mut rec = Recording::parse(BK650, "bk650").unwrap();
        rec.interrupts.clear();
        rec.interrupts.push(nut_hid_recording::Interrupt {
            after_ms: 100,
            report: vec![0x0c, 0x1e],
        });
        // a report whose length differs from the recorded answer leaves that answer alone
        rec.interrupts.push(nut_hid_recording::Interrupt {
            after_ms: 100,
            report: vec![0x16, 0x0a],
        });
        let clock = ManualClock::new();
        let mut d = ReplayDevice::with_clock(&rec, clock.clone());
        assert_eq!(d.get_feature(0x0c, 2).unwrap(), [0x0c, 0x64]);
        // not yet delivered: still the snapshot
        clock.advance(Duration::from_millis(150));
        assert_eq!(d.get_feature(0x0c, 2).unwrap(), [0x0c, 0x64]);
        assert_eq!(
            d.read_interrupt(Duration::ZERO).unwrap(),
            Some(vec![0x0c, 0x1e])
        );
        assert_eq!(d.get_feature(0x0c, 2).unwrap(), [0x0c, 0x1e]);
        clock.advance(Duration::from_millis(100));
        assert_eq!(
            d.read_interrupt(Duration::ZERO).unwrap(),
            Some(vec![0x16, 0x0a])
        );
        assert_eq!(d.get_feature(0x16, 3).unwrap(), [0x16, 0x0e, 0x00]);
    }
}
