//! Replay of a [`Recording`] as a [`Device`]: a thin adapter over [`nut_hid_sim::Replay`], the
//! report store the emulator shares. GET_REPORT answers exactly as recorded (an absent id fails
//! like a STALL), strings by index, identity from `[usb]` and its indices, the `[[interrupt]]`
//! reports at their recorded delays (a delivered one also becomes the GET_REPORT answer of its
//! id when the lengths agree). SET_REPORTs are accepted, stored (a later GET of that id returns
//! what was written, as a real unit reflects writes), kept in a list a test can read
//! ([`ReplayDevice::sets`]) and optionally appended to a log file (`SET_REPORT 0x15 15 3c 00`
//! per line) so a test of the driver binary can check them.
//!
//! Time comes from a [`Clock`], so tests run on a [`ManualClock`] without sleeping.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nut_hid::ReportKind;
use nut_hid_recording::Recording;
use nut_hid_sim::Replay;

use crate::device::{Device, DeviceError, Identity};

pub use nut_hid_sim::{Clock, ManualClock, SystemClock};

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

/// What a refusal of the simulated unit is to the driver: gone, or this request failed.
pub(crate) fn device_error(e: nut_hid_sim::Error) -> DeviceError {
    match e {
        nut_hid_sim::Error::Gone => DeviceError::Disconnected(e.to_string()),
        e => DeviceError::Failed(e.to_string()),
    }
}

/// A recording played back as a device.
#[derive(Debug)]
pub struct ReplayDevice {
    identity: Identity,
    store: Replay,
}

impl ReplayDevice {
    /// Replays `rec` in real time.
    pub fn new(rec: &Recording) -> Self {
        Self::with_clock(rec, Arc::new(SystemClock::new()))
    }

    /// Replays `rec` on `clock`; interrupt delays count from now.
    pub fn with_clock(rec: &Recording, clock: Arc<dyn Clock>) -> Self {
        ReplayDevice {
            identity: identity_of(rec),
            store: Replay::with_clock(rec, clock),
        }
    }

    /// Also append every SET_REPORT to `path` (`SET_REPORT 0x15 15 3c 00`), flushed per line.
    pub fn log_sets_to(&mut self, path: &Path) -> std::io::Result<()> {
        self.store.log_to(path)
    }

    /// Every SET_REPORT received: time since the device was opened, and the bytes.
    pub fn sets(&self) -> &[(Duration, Vec<u8>)] {
        self.store.sets()
    }

    /// Time since the device was opened.
    pub fn elapsed(&self) -> Duration {
        self.store.elapsed()
    }
}

impl Device for ReplayDevice {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        Ok(self.store.descriptor().to_vec())
    }

    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        self.store
            .get_report(ReportKind::Feature, id, len)
            .map_err(device_error)
    }

    fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError> {
        self.store
            .set_report(ReportKind::Feature, report)
            .map_err(device_error)
    }

    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        let clock = self.store.clock().clone();
        let deadline = clock.now().saturating_add(timeout);
        loop {
            let now = clock.now();
            if let Some(r) = self.store.pop_due(now) {
                return Ok(Some(r));
            }
            if now >= deadline {
                return Ok(None);
            }
            let wake = self.store.next_due().map_or(deadline, |d| d.min(deadline));
            clock.sleep(wake.saturating_sub(now).max(Duration::from_millis(1)));
        }
    }

    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        Ok(self.store.string(index).map(str::to_string))
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
