//! Record mode (`-x record=FILE`): write the device the driver talks to as a
//! `nut-hid-recording/1` ([`Recording::to_toml`]), so a user can attach it to a bug report and
//! anyone can replay it: USB identity, the string descriptors that exist, the report descriptor
//! and the GET_REPORT(Feature) answer of every Feature report id the descriptor declares (an id
//! the device refuses is left out, which is how a replay answers it: a stall).
//!
//! After that snapshot, every interrupt-IN report the driver reads is appended to the same file
//! as an `[[interrupt]]` entry ([`RecordMode`], [`InterruptLog`]), so a live event (mains pulled
//! while recording) replays too. The snapshot never holds `[[event]]` or `[[interrupt]]`
//! entries and ends with a whole table, and each entry is a whole array-of-tables element
//! written in one piece: the file is a valid recording after every append.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nut_hid::{Descriptor, ReportKind};

use crate::device::{Device, DeviceError, Identity};
use crate::transport::replay::{Clock, SystemClock};
use crate::Error;
use nut_hid_recording::{Indices, Interrupt, Recording, Usb};

/// Interrupt reports appended after the snapshot, at most: about 4 MB of TOML, over a day of
/// a unit that sends one report a second. The driver logs when the limit is reached.
pub const MAX_INTERRUPTS: usize = 100_000;

/// Writes the snapshot of `dev` (see [`record`]) to `path`, replacing the file.
pub fn write_snapshot(dev: &mut dyn Device, path: &Path) -> Result<(), Error> {
    let desc = nut_hid::parse(&dev.report_descriptor()?)?;
    let rec = record(dev, &desc, DEFAULT_STRINGS_UP_TO)?;
    std::fs::write(path, rec.to_toml()).map_err(|e| Error::io("writing", path, e))
}

/// Appends interrupt reports to a written snapshot as `[[interrupt]]` entries. `after_ms` is
/// the delay after the previous entry, the first one's after the log was opened (right after
/// the snapshot). A write error is logged once and ends the capture; so does the limit.
#[derive(Debug)]
pub struct InterruptLog {
    path: PathBuf,
    /// `None` once the capture has ended.
    file: Option<File>,
    clock: Arc<dyn Clock>,
    start: Duration,
    /// Sum of the `after_ms` written: each delay is taken from the start, so that millisecond
    /// roundings do not add up over a long capture.
    written_ms: u64,
    count: usize,
    limit: usize,
}

impl InterruptLog {
    /// Appends to the recording at `path` (which must exist), timed on `clock`, at most `limit`
    /// entries.
    pub fn open(path: &Path, clock: Arc<dyn Clock>, limit: usize) -> Result<Self, Error> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io("appending to", path, e))?;
        let start = clock.now();
        Ok(InterruptLog {
            path: path.to_path_buf(),
            file: Some(file),
            clock,
            start,
            written_ms: 0,
            count: 0,
            limit,
        })
    }

    /// Appends `report` (id byte first) as the next `[[interrupt]]` entry.
    pub fn capture(&mut self, report: &[u8]) {
        // An empty read carries nothing a replay could deliver (the format needs the id byte).
        if report.is_empty() {
            return;
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let elapsed = self.clock.now().saturating_sub(self.start);
        // Rounded to the nearest millisecond.
        let ms = u64::try_from((elapsed + Duration::from_micros(500)).as_millis())
            .unwrap_or(u64::MAX)
            .max(self.written_ms);
        let entry = Interrupt {
            after_ms: ms - self.written_ms,
            report: report.to_vec(),
        };
        // One write of a whole entry: a reader never sees half of one (short of a full disk).
        if let Err(e) = file.write_all(entry.to_toml().as_bytes()) {
            tracing::error!(
                "recording interrupt reports to {}: {e}; no more are recorded",
                self.path.display()
            );
            self.file = None;
            return;
        }
        self.written_ms = ms;
        self.count += 1;
        if self.count >= self.limit {
            tracing::warn!(
                "{} interrupt reports recorded to {}: the limit, no more are recorded",
                self.count,
                self.path.display()
            );
            self.file = None;
        }
    }

    /// Whether reports are still being appended.
    pub fn is_recording(&self) -> bool {
        self.file.is_some()
    }

    /// Entries appended so far.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// A device whose interrupt reports also go to an [`InterruptLog`].
pub struct RecordingDevice {
    inner: Box<dyn Device>,
    log: Arc<Mutex<InterruptLog>>,
}

impl RecordingDevice {
    fn log(&self) -> MutexGuard<'_, InterruptLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Device for RecordingDevice {
    fn identity(&self) -> &Identity {
        self.inner.identity()
    }

    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        self.inner.report_descriptor()
    }

    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        self.inner.get_feature(id, len)
    }

    fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError> {
        self.inner.set_feature(report)
    }

    fn event_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.inner.event_fd()
    }

    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        let r = self.inner.read_interrupt(timeout)?;
        if let Some(report) = &r {
            self.log().capture(report);
        }
        Ok(r)
    }

    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        self.inner.string(index)
    }
}

/// Record mode over the driver's life: the device factory passes every device it opens
/// through [`RecordMode::wrap`]. The first one is written as the snapshot; it and every
/// handle opened after a reconnect append their interrupt reports to the same file (the
/// disconnection itself is not recorded: the delay just spans it).
pub struct RecordMode {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    limit: usize,
    snapshot_tried: bool,
    /// `None` before the snapshot, or when it failed (then nothing is recorded).
    log: Option<Arc<Mutex<InterruptLog>>>,
}

impl RecordMode {
    /// Records to `path` in real time, at most [`MAX_INTERRUPTS`] interrupt reports.
    pub fn new(path: PathBuf) -> Self {
        Self::with_clock(path, Arc::new(SystemClock::new()), MAX_INTERRUPTS)
    }

    /// Records to `path`, timing interrupt reports on `clock`, at most `limit` of them.
    pub fn with_clock(path: PathBuf, clock: Arc<dyn Clock>, limit: usize) -> Self {
        RecordMode {
            path,
            clock,
            limit,
            snapshot_tried: false,
            log: None,
        }
    }

    /// Writes the snapshot the first time; returns `dev` with its interrupt reports recorded.
    /// Failures are logged: the driver carries on with the device as it is.
    pub fn wrap(&mut self, mut dev: Box<dyn Device>) -> Box<dyn Device> {
        if !self.snapshot_tried {
            self.snapshot_tried = true;
            let opened = write_snapshot(dev.as_mut(), &self.path)
                .and_then(|()| InterruptLog::open(&self.path, self.clock.clone(), self.limit));
            match opened {
                Ok(log) => {
                    tracing::info!(
                        "device recorded to {}; interrupt reports are appended as they come",
                        self.path.display()
                    );
                    self.log = Some(Arc::new(Mutex::new(log)));
                }
                Err(e) => tracing::error!("recording the device to {}: {e}", self.path.display()),
            }
        }
        match &self.log {
            Some(log) => Box::new(RecordingDevice {
                inner: dev,
                log: log.clone(),
            }),
            None => dev,
        }
    }
}

/// String indices tried by default (1..=this).
pub const DEFAULT_STRINGS_UP_TO: u8 = 32;

/// Reads `dev` into a recording. `desc` is its parsed report descriptor (before any subdriver
/// fix: only report ids and lengths are used). String indices 1..=`strings_up_to` are asked.
///
/// `[usb.indices]` are not visible through [`Device`]: each is the first string index whose
/// text equals the identity's manufacturer / product / serial.
///
/// Only a device that is gone ([`DeviceError::is_gone`]) aborts; a failed request leaves that
/// item out.
pub fn record(
    dev: &mut dyn Device,
    desc: &Descriptor,
    strings_up_to: u8,
) -> Result<Recording, DeviceError> {
    let mut rec = Recording {
        descriptor: dev.report_descriptor()?,
        ..Recording::default()
    };
    for index in 1..=strings_up_to {
        match dev.string(index) {
            Ok(Some(s)) => {
                rec.strings.insert(index, s);
            }
            Err(e) if e.is_gone() => return Err(e),
            Ok(None) | Err(_) => {}
        }
    }
    let id = dev.identity().clone();
    let index_of = |s: &Option<String>| {
        let s = s.as_deref()?;
        rec.strings
            .iter()
            .find(|(_, v)| v.as_str() == s)
            .map(|(&i, _)| i)
    };
    rec.usb = Usb {
        vendor_id: id.vendor_id,
        product_id: id.product_id,
        bcd_device: id.bcd_device,
        bus: id.bus.clone(),
        port: id.port.clone(),
        indices: Indices {
            manufacturer: index_of(&id.manufacturer),
            product: index_of(&id.product),
            serial: index_of(&id.serial),
        },
    };
    let mut ids: Vec<u8> = desc
        .fields()
        .iter()
        .filter(|f| f.kind == ReportKind::Feature)
        .map(|f| f.report_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for rid in ids {
        match dev.get_feature(rid, desc.report_len(rid)) {
            // Keep only well-formed answers (id byte first), as the format requires.
            Ok(answer) if answer.first() == Some(&rid) => {
                rec.feature.insert(rid, answer);
            }
            Err(e) if e.is_gone() => return Err(e),
            Ok(_) | Err(_) => {}
        }
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::BK650;
    use crate::transport::replay::{ManualClock, ReplayDevice};
    use crate::transport::sim::SimDevice;

    /// Charge reported on the interrupt pipe (report 0x0c, `0c <percent>`) at 1 s, 2.5 s, 4 s.
    const CHARGE_FALLS: &str = "
[[event]]
at_s = 1.0
set = { \"UPS.PowerSummary.RemainingCapacity\" = 30 }
interrupt = true

[[event]]
at_s = 2.5
set = { \"UPS.PowerSummary.RemainingCapacity\" = 20 }
interrupt = true

[[event]]
at_s = 4.0
set = { \"UPS.PowerSummary.RemainingCapacity\" = 10 }
interrupt = true
";

    /// The BK650M2-CH without its own interrupt reports, plus `scenario`, on a manual clock.
    fn sim(scenario: &str) -> (SimDevice, Arc<ManualClock>) {
        let mut rec = Recording::parse(&format!("{BK650}{scenario}"), "scenario").unwrap();
        rec.interrupts.clear();
        let clock = ManualClock::new();
        let unit = SimDevice::with_clock(&rec, "scenario", clock.clone()).unwrap();
        (unit, clock)
    }

    fn entry(after_ms: u64, hex: &str) -> String {
        format!("\n[[interrupt]]\nafter_ms = {after_ms}\nhex = \"{hex}\"\n")
    }

    /// The file as it is now: its text, which must parse as a recording.
    fn read(path: &Path) -> (String, Recording) {
        let text = std::fs::read_to_string(path).unwrap();
        let rec = Recording::parse(&text, "recorded")
            .unwrap_or_else(|e| panic!("the recording does not parse: {e}\n{text}"));
        (text, rec)
    }

    #[test]
    fn interrupt_reports_are_appended_to_the_snapshot() {
        let (unit, clock) = sim(CHARGE_FALLS);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ups.recording.toml");
        let mut mode = RecordMode::with_clock(path.clone(), clock, MAX_INTERRUPTS);
        let mut dev = mode.wrap(Box::new(unit.reopen().unwrap()));
        let (snapshot, base) = read(&path);
        assert_eq!(base.feature.get(&0x0c), Some(&vec![0x0c, 0x64]));
        assert!(base.interrupts.is_empty() && base.events.is_empty());

        // Nothing before 1 s: nothing appended.
        assert_eq!(dev.read_interrupt(Duration::from_millis(800)), Ok(None));
        assert_eq!(read(&path).0, snapshot);
        // Each report lands as an entry, timed from the snapshot, then from the previous one;
        // the file parses after each append.
        assert_eq!(
            dev.read_interrupt(Duration::from_secs(1)),
            Ok(Some(vec![0x0c, 0x1e]))
        );
        let (text, rec) = read(&path);
        assert_eq!(text, format!("{snapshot}{}", entry(1000, "0c 1e")));
        assert_eq!(
            rec.interrupts,
            [Interrupt {
                after_ms: 1000,
                report: vec![0x0c, 0x1e]
            }]
        );
        assert_eq!(
            dev.read_interrupt(Duration::from_secs(2)),
            Ok(Some(vec![0x0c, 0x14]))
        );
        let (text, _) = read(&path);
        assert_eq!(
            text,
            format!("{snapshot}{}{}", entry(1000, "0c 1e"), entry(1500, "0c 14"))
        );

        // A reconnect: the snapshot is not written again, the new handle appends to the file.
        drop(dev);
        let mut dev = mode.wrap(Box::new(unit.reopen().unwrap()));
        assert_eq!(
            dev.read_interrupt(Duration::from_secs(2)),
            Ok(Some(vec![0x0c, 0x0a]))
        );
        let (text, rec) = read(&path);
        assert_eq!(
            text,
            format!(
                "{snapshot}{}{}{}",
                entry(1000, "0c 1e"),
                entry(1500, "0c 14"),
                entry(1500, "0c 0a")
            )
        );
        // Apart from the interrupts, the same recording as the snapshot.
        let mut rest = rec.clone();
        rest.interrupts.clear();
        assert_eq!(rest, base);

        // Replayed, the file gives the same reports at the same times.
        let mut replay = ReplayDevice::with_clock(&rec, ManualClock::new());
        let mut got = Vec::new();
        while let Some(r) = replay.read_interrupt(Duration::from_secs(5)).unwrap() {
            got.push((replay.elapsed(), r));
        }
        assert_eq!(
            got,
            [
                (Duration::from_millis(1000), vec![0x0c, 0x1e]),
                (Duration::from_millis(2500), vec![0x0c, 0x14]),
                (Duration::from_millis(4000), vec![0x0c, 0x0a]),
            ]
        );
    }

    #[test]
    fn delays_are_rounded_without_drift() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.toml");
        std::fs::write(&path, Recording::parse(BK650, "bk650").unwrap().to_toml()).unwrap();
        let (head, _) = read(&path);
        let clock = ManualClock::new();
        let mut log = InterruptLog::open(&path, clock.clone(), 10).unwrap();
        for _ in 0..3 {
            clock.advance(Duration::from_micros(1400));
            log.capture(&[0x0c, 0x64]);
        }
        // 1.4, 2.8, 4.2 ms: 1, 3, 4 rounded, so 1 + 2 + 1 (not 1 + 1 + 1).
        let (text, rec) = read(&path);
        assert_eq!(
            text,
            format!(
                "{head}{}{}{}",
                entry(1, "0c 64"),
                entry(2, "0c 64"),
                entry(1, "0c 64")
            )
        );
        // The fixture's own interrupts come first, the appended ones after.
        assert_eq!(rec.interrupts.len(), 6);
    }

    #[test]
    fn the_capture_stops_at_the_limit_and_skips_empty_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.toml");
        let mut snapshot = Recording::parse(BK650, "bk650").unwrap();
        snapshot.interrupts.clear();
        std::fs::write(&path, snapshot.to_toml()).unwrap();
        let (head, _) = read(&path);
        let clock = ManualClock::new();
        let mut log = InterruptLog::open(&path, clock.clone(), 2).unwrap();
        log.capture(&[]);
        assert!(log.is_recording());
        for charge in [0x1e, 0x14, 0x0a] {
            clock.advance(Duration::from_millis(10));
            log.capture(&[0x0c, charge]);
        }
        assert_eq!(log.count(), 2);
        assert!(!log.is_recording());
        let (text, rec) = read(&path);
        assert_eq!(
            text,
            format!("{head}{}{}", entry(10, "0c 1e"), entry(10, "0c 14"))
        );
        assert_eq!(rec.interrupts.len(), 2);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_error_ends_the_capture() {
        // /dev/full refuses every write (ENOSPC).
        let mut log = InterruptLog::open(Path::new("/dev/full"), ManualClock::new(), 10).unwrap();
        log.capture(&[0x0c, 0x1e]);
        assert!(!log.is_recording());
        assert_eq!(log.count(), 0);
        log.capture(&[0x0c, 0x14]);
        assert_eq!(log.count(), 0);
    }

    #[test]
    fn no_snapshot_no_capture() {
        let (unit, clock) = sim(CHARGE_FALLS);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("r.toml");
        let mut mode = RecordMode::with_clock(path.clone(), clock, MAX_INTERRUPTS);
        // The driver carries on with the device as it is.
        let mut dev = mode.wrap(Box::new(unit.reopen().unwrap()));
        assert_eq!(
            dev.read_interrupt(Duration::from_secs(2)),
            Ok(Some(vec![0x0c, 0x1e]))
        );
        assert!(!path.exists());
        assert!(!path.parent().unwrap().exists());
    }

    #[test]
    fn recording_a_replay_gives_the_recording_back() {
        let original = Recording::parse(BK650, "bk650").unwrap();
        let mut dev = ReplayDevice::with_clock(&original, ManualClock::new());
        let desc = nut_hid::parse(&original.descriptor).unwrap();
        let rec = record(&mut dev, &desc, DEFAULT_STRINGS_UP_TO).unwrap();
        let mut expected = original;
        // The snapshot has no interrupt reports: record mode appends them as they come.
        expected.interrupts.clear();
        assert_eq!(rec, expected);
        // And its text replays the same.
        let again = Recording::parse(&rec.to_toml(), "recorded").unwrap();
        assert_eq!(again, expected);
    }

    #[test]
    fn refused_reports_are_left_out() {
        let mut original = Recording::parse(BK650, "bk650").unwrap();
        original.feature.remove(&0x26);
        let mut dev = ReplayDevice::with_clock(&original, ManualClock::new());
        let desc = nut_hid::parse(&original.descriptor).unwrap();
        let rec = record(&mut dev, &desc, 3).unwrap();
        assert!(!rec.feature.contains_key(&0x26));
        assert_eq!(rec.feature.len(), 41);
        assert_eq!(rec.strings.len(), 3);
    }
}
