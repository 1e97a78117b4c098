//! The HID backend of usbhid-ups over a device whose every answer comes from the input: the
//! APC BK650M2-CH's real report descriptor, then feature reports and interrupt reports cut
//! from the input (short, long, failed, or the device gone), through start-up, polls and
//! interrupt events, as the driver runs them.
//!
//! No panic, and what the driver would publish stays sane: every variable has a printable
//! name and value, and `ups.status` is made only of NUT's status words (the status builder
//! never invents one from report bytes).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use nut_driver::config::{DriverConfig, Setting};
use nut_state::Tree;
use usbhid_ups::backend::HidBackend;
use usbhid_ups::device::{Device, DeviceError, Identity};

const DESCRIPTOR: &[u8] = include_bytes!("../seeds/hid_descriptor/back-ups-bk650m2-ch.bin");

/// The status words NUT's usbhid-ups can publish.
const STATUS_WORDS: &[&str] = &[
    "OL", "OB", "LB", "HB", "RB", "CHRG", "DISCHRG", "BYPASS", "CAL", "OFF", "OVER", "TRIM",
    "BOOST", "FSD", "ALARM", "ECO", "WAIT",
];

/// Answers cut from the input, in turn; when it runs out, every request fails.
struct Fuzzed {
    id: Identity,
    data: Vec<u8>,
    at: usize,
}

impl Fuzzed {
    fn take(&mut self, n: usize) -> Vec<u8> {
        let end = (self.at + n).min(self.data.len());
        let out = self.data[self.at..end].to_vec();
        self.at = end;
        out
    }

    /// The next byte says what happens: answer n bytes, fail, or be gone.
    fn answer(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        let Some(&op) = self.data.get(self.at) else {
            return Err(DeviceError::Failed("input exhausted".into()));
        };
        self.at += 1;
        match op {
            0 => Err(DeviceError::Failed("stall".into())),
            1 => Err(DeviceError::Disconnected("gone".into())),
            _ => {
                let n = usize::from(op) % (len + 8);
                let mut r = vec![id];
                r.extend(self.take(n.saturating_sub(1)));
                Ok(r)
            }
        }
    }
}

impl Device for Fuzzed {
    fn identity(&self) -> &Identity {
        &self.id
    }
    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        Ok(DESCRIPTOR.to_vec())
    }
    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        self.answer(id, len)
    }
    fn set_feature(&mut self, _report: &[u8]) -> Result<(), DeviceError> {
        Ok(())
    }
    fn read_interrupt(&mut self, _timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        let Some(&id) = self.data.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        self.answer(id, 8).map(Some)
    }
    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        Ok(Some(format!("string {index}")))
    }
}

fn check(tree: &Tree) {
    for v in tree.vars() {
        assert!(
            v.name().bytes().all(|b| (0x21..0x7f).contains(&b)),
            "{:?}",
            v.name()
        );
        assert!(
            v.escaped().bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{:?}",
            v.escaped()
        );
    }
    if let Some(status) = tree.get("ups.status") {
        for w in status.raw().split_whitespace() {
            assert!(
                STATUS_WORDS.contains(&w),
                "status word {w:?} in {:?}",
                status.raw()
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let id = Identity {
        vendor_id: 0x051d,
        product_id: 0x0002,
        manufacturer: Some("American Power Conversion".into()),
        product: Some("Back-UPS BK650M2-CH FW:294803G -292804G".into()),
        serial: Some("9B2227A12345".into()),
        ..Identity::default()
    };
    let mut device = Some(Fuzzed {
        id,
        data: data.to_vec(),
        at: 0,
    });
    let mut backend = HidBackend::new(Box::new(move || match device.take() {
        Some(d) => Ok(Box::new(d) as Box<dyn Device>),
        None => Err(DeviceError::Disconnected("no second unit".into())),
    }));
    let cfg = DriverConfig {
        progname: "usbhid-ups".into(),
        upsname: "ups".into(),
        settings: vec![Setting {
            key: "port".into(),
            value: Some("auto".into()),
        }],
        poll_interval: 2,
        synchronous: "auto".into(),
        user: None,
        group: None,
        debug_min: None,
    };
    let mut tree = Tree::default();
    use nut_driver::Backend;
    if backend.init(&mut tree, &cfg).is_err() {
        return;
    }
    check(&tree);
    let t0 = Instant::now();
    for round in 0..8u64 {
        let now = t0 + Duration::from_secs(2 * round);
        let _ = backend.update(&mut tree, now);
        check(&tree);
        let _ = backend.wait_event(&mut tree, Duration::ZERO);
        check(&tree);
    }
});
