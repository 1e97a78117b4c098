//! NUT's report layer (libhid.c): one buffer per report id with the time it was filled, read
//! through a [`Device`]. A GET_REPORT is skipped while the buffered copy is younger than the
//! given age; short answers are kept over the older bytes; a write goes into the buffered
//! report, the whole report is sent with SET_REPORT, and every buffer then counts as stale.

use std::time::{Duration, Instant};

use nut_hid::{Descriptor, Field, ReportBuffer};

use crate::device::{Device, DeviceError};

/// NUT's `max_report_size` request length: the size of a pointer on a 64-bit host.
pub(crate) const MAX_REPORT_LEN: usize = 8;

/// Why a value could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReportError {
    /// The device failed the transfer (or is gone).
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The device answered with nothing.
    #[error("report 0x{0:02x}: empty answer")]
    Empty(u8),
    /// The buffered report is too short for the field.
    #[error("report 0x{0:02x} too short for the field")]
    TooShort(u8),
    /// The field is Constant, or the value does not convert.
    #[error("report 0x{0:02x}: field not writable")]
    NotWritable(u8),
}

/// The report buffers of one device.
#[derive(Debug, Clone)]
pub(crate) struct Reports {
    buf: ReportBuffer,
    filled: Vec<Option<Instant>>,
    /// `maxreport`: ask for [`MAX_REPORT_LEN`] bytes.
    pub(crate) max_report: bool,
    /// `interruptonly`: never GET_REPORT; values come from interrupt reports only.
    pub(crate) interrupt_only: bool,
}

impl Reports {
    pub(crate) fn new(desc: &Descriptor) -> Reports {
        Reports {
            buf: ReportBuffer::new(desc),
            filled: vec![None; 256],
            max_report: false,
            interrupt_only: false,
        }
    }

    fn fresh(&self, id: u8, age: Duration, now: Instant) -> bool {
        match self.filled[usize::from(id)] {
            Some(t) => now.saturating_duration_since(t) < age,
            None => false,
        }
    }

    /// Refreshes report `id` unless its copy is younger than `age`.
    pub(crate) fn refresh(
        &mut self,
        dev: &mut dyn Device,
        id: u8,
        age: Duration,
        now: Instant,
    ) -> Result<(), ReportError> {
        if self.interrupt_only || self.fresh(id, age, now) {
            return Ok(());
        }
        let len = if self.max_report {
            MAX_REPORT_LEN
        } else {
            self.buf.len_of(id)
        };
        let answer = dev.get_feature(id, len)?;
        if answer.is_empty() {
            return Err(ReportError::Empty(id));
        }
        if answer.len() != self.buf.len_of(id) {
            tracing::trace!(
                "report 0x{id:02x}: expected {} bytes, got {}",
                self.buf.len_of(id),
                answer.len()
            );
        }
        // The answer's first byte is the id; keep ours in place whatever the device sent.
        let mut a = answer;
        a[0] = id;
        self.buf.fill(id, &a);
        self.filled[usize::from(id)] = Some(now);
        Ok(())
    }

    /// The physical value of `field` (NUT's `HIDGetDataValue`), refreshing its report if older
    /// than `age`.
    pub(crate) fn value(
        &mut self,
        dev: &mut dyn Device,
        field: &Field,
        age: Duration,
        now: Instant,
    ) -> Result<f64, ReportError> {
        self.refresh(dev, field.report_id, age, now)?;
        self.buffered_value(field)
    }

    /// The physical value of `field` from the buffer as it is.
    pub(crate) fn buffered_value(&self, field: &Field) -> Result<f64, ReportError> {
        self.buf
            .report(field.report_id)
            .and_then(|r| field.value(r))
            .ok_or(ReportError::TooShort(field.report_id))
    }

    /// Writes a physical value (NUT's `HIDSetDataValue`): converted to logical, put into the
    /// buffered report, the whole report sent; then every buffer is stale.
    pub(crate) fn set_value(
        &mut self,
        dev: &mut dyn Device,
        field: &Field,
        value: f64,
    ) -> Result<Vec<u8>, ReportError> {
        let id = field.report_id;
        let logical = field
            .from_value(value)
            .ok_or(ReportError::NotWritable(id))?;
        self.buf
            .set(field, logical)
            .map_err(|_| ReportError::TooShort(id))?;
        let report = self
            .buf
            .report(id)
            .ok_or(ReportError::TooShort(id))?
            .to_vec();
        dev.set_feature(&report)?;
        self.expire_all();
        Ok(report)
    }

    /// Files an unsolicited (interrupt) report; returns its id when the descriptor has it.
    pub(crate) fn file(&mut self, data: &[u8], now: Instant) -> Option<u8> {
        let id = self.buf.fill_tagged(data)?;
        self.filled[usize::from(id)] = Some(now);
        Some(id)
    }

    /// Forgets every timestamp, so the next read of each report asks the device.
    pub(crate) fn expire_all(&mut self) {
        self.filled.iter_mut().for_each(|t| *t = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Identity;

    /// Report 0x0c: one 8-bit Feature field (0..255); report 0x0f: 16 bits.
    const DESC: &[u8] = &[
        0x05, 0x84, 0x09, 0x04, 0xa1, 0x01, 0x85, 0x0c, 0x09, 0x66, 0x75, 0x08, 0x95, 0x01, 0x15,
        0x00, 0x26, 0xff, 0x00, 0xb1, 0xa2, 0x85, 0x0f, 0x09, 0x68, 0x75, 0x10, 0x27, 0xff, 0xff,
        0x00, 0x00, 0xb1, 0xa2, 0xc0,
    ];

    #[derive(Default)]
    struct Dev {
        id: Identity,
        asked: Vec<(u8, usize)>,
        sent: Vec<Vec<u8>>,
        fail: bool,
    }

    impl Device for Dev {
        fn identity(&self) -> &Identity {
            &self.id
        }
        fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
            Ok(DESC.to_vec())
        }
        fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
            self.asked.push((id, len));
            if self.fail {
                return Err(DeviceError::Failed("stall".into()));
            }
            Ok(match id {
                0x0c => vec![0x0c, 100],
                _ => vec![0x0f, 0x22],
            })
        }
        fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError> {
            self.sent.push(report.to_vec());
            Ok(())
        }
        fn read_interrupt(&mut self, _: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
            Ok(None)
        }
        fn string(&mut self, _: u8) -> Result<Option<String>, DeviceError> {
            Ok(None)
        }
    }

    fn setup() -> (Descriptor, Reports, Dev) {
        let desc = nut_hid::parse(DESC).expect("descriptor");
        let reports = Reports::new(&desc);
        (desc, reports, Dev::default())
    }

    #[test]
    fn young_reports_are_reused_and_old_ones_asked_again() {
        let (desc, mut r, mut dev) = setup();
        let f = &desc.fields()[0];
        let t0 = Instant::now();
        let age = Duration::from_secs(2);
        assert_eq!(r.value(&mut dev, f, age, t0), Ok(100.0));
        assert_eq!(
            r.value(&mut dev, f, age, t0 + Duration::from_secs(1)),
            Ok(100.0)
        );
        assert_eq!(dev.asked, [(0x0c, 2)]);
        assert_eq!(
            r.value(&mut dev, f, age, t0 + Duration::from_secs(2)),
            Ok(100.0)
        );
        assert_eq!(dev.asked.len(), 2);
    }

    #[test]
    fn short_answers_keep_the_rest_and_failures_are_errors() {
        let (desc, mut r, mut dev) = setup();
        let f = &desc.fields()[1];
        assert_eq!(
            r.value(&mut dev, f, Duration::ZERO, Instant::now()),
            Ok(34.0)
        );
        dev.fail = true;
        assert!(matches!(
            r.value(&mut dev, f, Duration::ZERO, Instant::now()),
            Err(ReportError::Device(DeviceError::Failed(_)))
        ));
    }

    #[test]
    fn max_report_asks_for_eight_bytes_and_interrupt_only_never_asks() {
        let (desc, mut r, mut dev) = setup();
        r.max_report = true;
        let f = &desc.fields()[0];
        r.value(&mut dev, f, Duration::ZERO, Instant::now())
            .expect("value");
        assert_eq!(dev.asked, [(0x0c, MAX_REPORT_LEN)]);
        let (desc, mut r, mut dev) = setup();
        r.interrupt_only = true;
        let now = Instant::now();
        assert_eq!(
            r.value(&mut dev, &desc.fields()[0], Duration::ZERO, now),
            Ok(0.0)
        );
        assert_eq!(r.file(&[0x0c, 42], now), Some(0x0c));
        assert_eq!(
            r.value(&mut dev, &desc.fields()[0], Duration::ZERO, now),
            Ok(42.0)
        );
        assert!(dev.asked.is_empty());
        assert_eq!(r.file(&[0x33, 1], now), None);
        assert_eq!(r.file(&[], now), None);
    }

    #[test]
    fn writes_send_the_whole_buffer_and_expire_every_report() {
        let (desc, mut r, mut dev) = setup();
        let t0 = Instant::now();
        let age = Duration::from_secs(10);
        r.value(&mut dev, &desc.fields()[0], age, t0).expect("read");
        let sent = r
            .set_value(&mut dev, &desc.fields()[1], 300.0)
            .expect("write");
        assert_eq!(sent, [0x0f, 0x2c, 0x01]);
        assert_eq!(dev.sent, [vec![0x0f, 0x2c, 0x01]]);
        r.value(&mut dev, &desc.fields()[0], age, t0).expect("read");
        assert_eq!(dev.asked.len(), 2, "the write made 0x0c stale too");
    }
}
