//! A recording as a report store ([`Replay`]): GET_REPORT answers exactly as recorded (an
//! absent id fails like a STALL, an answer is never longer than asked), strings by index, the
//! `[[interrupt]]` reports at their recorded delays. A delivered interrupt report also becomes
//! the answer to GET_REPORT of its id when the recorded answer has the same length, as a unit's
//! Feature report shows the state its Input report announced (so a poll after a recorded event
//! reads the new state, not the state of the snapshot). SET_REPORTs are stored (a later GET of
//! that id returns what was written, as a real unit reflects writes), kept in a list a test can
//! read ([`Replay::sets`]) and optionally appended to a log file (`SET_REPORT 0x15 15 3c 00`
//! per line), so a test of the driver binary or of the emulator can check them.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nut_hid::ReportKind;
use nut_hid_recording::{hex_string, Recording, Usb};

use crate::clock::{Clock, SystemClock};
use crate::Error;

/// A recording played back as a unit's report store.
#[derive(Debug)]
pub struct Replay {
    usb: Usb,
    descriptor: Vec<u8>,
    strings: BTreeMap<u8, String>,
    /// Current Feature report contents by id (recorded, then as written).
    pub(crate) feature: BTreeMap<u8, Vec<u8>>,
    /// Current Input report contents by id (the scenario changes them).
    pub(crate) input: BTreeMap<u8, Vec<u8>>,
    /// Output reports written (SET_REPORT(Output)).
    output: BTreeMap<u8, Vec<u8>>,
    /// Interrupt reports not yet delivered, with their due time on the clock, in order, and
    /// whether they come from the recording's `[[interrupt]]` list (not from a simulation).
    pub(crate) pending: VecDeque<(Duration, Vec<u8>, bool)>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Clock time when the store was created.
    pub(crate) start: Duration,
    sets: Vec<(Duration, Vec<u8>)>,
    log: Option<File>,
}

impl Replay {
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
        Replay {
            usb: rec.usb.clone(),
            descriptor: rec.descriptor.clone(),
            strings: rec.strings.clone(),
            feature: rec.feature.clone(),
            input: rec.input.clone(),
            output: BTreeMap::new(),
            pending,
            clock,
            start,
            sets: Vec::new(),
            log: None,
        }
    }

    /// The `[usb]` table: ids, location, and which string index names what (a replug with
    /// another serial may have changed [`Usb::indices`]).
    pub fn usb(&self) -> &Usb {
        &self.usb
    }

    /// The HID report descriptor.
    pub fn descriptor(&self) -> &[u8] {
        &self.descriptor
    }

    /// String descriptor `index`, if the unit has it.
    pub fn string(&self, index: u8) -> Option<&str> {
        self.strings.get(&index).map(String::as_str)
    }

    /// Every string descriptor by index.
    pub fn strings(&self) -> &BTreeMap<u8, String> {
        &self.strings
    }

    /// Presents another serial number: the string `iSerialNumber` names is replaced; a unit
    /// without one gets it at the lowest free index.
    pub fn set_serial(&mut self, serial: &str) {
        let index = match self.usb.indices.serial {
            Some(i) => i,
            None => {
                let free = (1..=u8::MAX).find(|i| !self.strings.contains_key(i));
                let Some(i) = free else {
                    tracing::warn!("no free string index for the serial number");
                    return;
                };
                self.usb.indices.serial = Some(i);
                i
            }
        };
        self.strings.insert(index, serial.to_string());
    }

    /// The stored contents of report `id` of `kind`.
    pub fn report(&self, kind: ReportKind, id: u8) -> Option<&[u8]> {
        self.store(kind).get(&id).map(Vec::as_slice)
    }

    fn store(&self, kind: ReportKind) -> &BTreeMap<u8, Vec<u8>> {
        match kind {
            ReportKind::Feature => &self.feature,
            ReportKind::Input => &self.input,
            ReportKind::Output => &self.output,
        }
    }

    /// GET_REPORT(`kind`, `id`) asking for up to `len` bytes (id byte included): the stored
    /// answer, cut to `len`. An id without an answer stalls ([`Error::NoReport`]).
    pub fn get_report(&self, kind: ReportKind, id: u8, len: usize) -> Result<Vec<u8>, Error> {
        match self.store(kind).get(&id) {
            Some(answer) if len > 0 => Ok(answer[..answer.len().min(len)].to_vec()),
            Some(_) => Err(Error::ZeroLength { id }),
            None => Err(Error::NoReport { kind, id }),
        }
    }

    /// SET_REPORT(`kind`) with the whole report (`report[0]` is the id): stored, listed
    /// (Feature) and logged.
    pub fn set_report(&mut self, kind: ReportKind, report: &[u8]) -> Result<(), Error> {
        let Some(&id) = report.first() else {
            return Err(Error::EmptyReport);
        };
        let line = match kind {
            ReportKind::Feature => format!("SET_REPORT 0x{id:02x} {}", hex_string(report)),
            ReportKind::Output => format!("SET_REPORT Output 0x{id:02x} {}", hex_string(report)),
            ReportKind::Input => return Err(Error::NotWritable { kind, id }),
        };
        self.log_line(&line);
        match kind {
            ReportKind::Feature => {
                self.sets.push((self.elapsed(), report.to_vec()));
                self.feature.insert(id, report.to_vec());
            }
            _ => {
                self.output.insert(id, report.to_vec());
            }
        }
        Ok(())
    }

    /// Also append every SET_REPORT (and the unit's transitions) to `path`, flushed per line.
    pub fn log_to(&mut self, path: &Path) -> io::Result<()> {
        self.log = Some(OpenOptions::new().create(true).append(true).open(path)?);
        Ok(())
    }

    /// Appends `line` and a newline to the log, if there is one.
    pub(crate) fn log_line(&mut self, line: &str) {
        if let Some(log) = &mut self.log {
            let line = format!("{line}\n");
            if let Err(e) = log.write_all(line.as_bytes()).and_then(|()| log.flush()) {
                tracing::warn!("cannot write the unit's log: {e}");
            }
        }
    }

    /// Every SET_REPORT(Feature) received: time since the store was created, and the bytes.
    pub fn sets(&self) -> &[(Duration, Vec<u8>)] {
        &self.sets
    }

    /// The clock the store runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Time since the store was created.
    pub fn elapsed(&self) -> Duration {
        self.clock.now().saturating_sub(self.start)
    }

    /// Queues a simulated interrupt report due at `due`, after those due at the same time or
    /// earlier. (The simulation has already put its values into the reports.)
    pub(crate) fn queue_interrupt(&mut self, due: Duration, report: Vec<u8>) {
        let at = self.pending.partition_point(|(d, _, _)| *d <= due);
        self.pending.insert(at, (due, report, false));
    }

    /// The first interrupt report due at `now` (clock time), if any. A recorded one also
    /// becomes the GET_REPORT answer of its id (same length only).
    pub fn pop_due(&mut self, now: Duration) -> Option<Vec<u8>> {
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

    /// Clock time the next interrupt report is due.
    pub fn next_due(&self) -> Option<Duration> {
        self.pending.front().map(|(d, _, _)| *d)
    }
}
