//! The HID backend on devices built in the test: malformed descriptors, unknown vendors, short
//! and missing answers and odd interrupt reports. None of it may panic; a bad device is a clean
//! error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nut_driver::{Backend, BackendError};
use nut_state::Tree;
use usbhid_ups::backend::HidBackend;
use usbhid_ups::device::{Device, DeviceError, Identity};

use crate::common::{bytes, config, value, BK650M2};

/// A device answering GET_REPORT from a table (absent id: a STALL).
struct Fake {
    id: Identity,
    desc: Vec<u8>,
    answers: BTreeMap<u8, Vec<u8>>,
    interrupts: Vec<Vec<u8>>,
}

impl Device for Fake {
    fn identity(&self) -> &Identity {
        &self.id
    }
    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        Ok(self.desc.clone())
    }
    fn get_feature(&mut self, id: u8, _len: usize) -> Result<Vec<u8>, DeviceError> {
        self.answers
            .get(&id)
            .cloned()
            .ok_or_else(|| DeviceError::Failed("stall".into()))
    }
    fn set_feature(&mut self, _report: &[u8]) -> Result<(), DeviceError> {
        Ok(())
    }
    fn read_interrupt(&mut self, _timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        Ok(self.interrupts.pop())
    }
    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        Ok((index == 4).then(|| "PbAc".to_string()))
    }
}

struct Run {
    backend: HidBackend,
    tree: Tree,
}

fn init(
    pid: u16,
    vid: u16,
    desc: Vec<u8>,
    answers: &[&str],
    interrupts: &[&[u8]],
) -> Result<Run, BackendError> {
    let answers: BTreeMap<u8, Vec<u8>> = answers
        .iter()
        .map(|a| {
            let b = bytes(a);
            (b[0], b)
        })
        .collect();
    let interrupts: Vec<Vec<u8>> = interrupts.iter().rev().map(|i| i.to_vec()).collect();
    let mut backend = HidBackend::new(Box::new(move || {
        Ok(Box::new(Fake {
            id: Identity {
                vendor_id: vid,
                product_id: pid,
                manufacturer: Some("American Power Conversion".into()),
                product: Some("BK650M2-CH".into()),
                serial: Some("9B2019A14274".into()),
                ..Identity::default()
            },
            desc: desc.clone(),
            answers: answers.clone(),
            interrupts: interrupts.clone(),
        }) as Box<dyn Device>)
    }));
    let mut tree = Tree::new();
    backend.init(&mut tree, &config(&["port=auto"]))?;
    Ok(Run { backend, tree })
}

#[test]
fn malformed_descriptors_and_foreign_devices_are_clean_errors() {
    for desc in [
        vec![],
        vec![0x05],
        vec![0xa1, 0x01, 0xc0, 0xc0, 0xc0],
        vec![0xff; 64],
    ] {
        match init(2, 0x051d, desc.clone(), &[], &[]) {
            Ok(r) => assert!(value(&r.tree, "battery.charge").is_none(), "{desc:?}"),
            Err(BackendError::Fatal(_)) => {}
            Err(e) => panic!("{desc:?}: {e:?}"),
        }
    }
    match init(2, 0x0764, bytes(BK650M2), &[], &[]) {
        Err(BackendError::Fatal(e)) => assert!(e.contains("No matching HID UPS found"), "{e}"),
        other => panic!("{:?}", other.err()),
    }
    match init(0x0009, 0x051d, bytes(BK650M2), &[], &[]) {
        Err(BackendError::Fatal(_)) => {}
        other => panic!("unknown APC product claimed: {:?}", other.err()),
    }
}

#[test]
fn short_missing_and_odd_answers_are_skipped() {
    // 0x0c answers only its id byte, 0x26 is missing, 0x16 is short
    // but long enough for its first bits; odd interrupt reports come in.
    let mut r = init(
        2,
        0x051d,
        bytes(BK650M2),
        &["0c", "16 0e", "23 22", "18 02", "03 04"],
        &[
            &[],
            &[0x16],
            &[0x77, 1, 2],
            &[0x16, 0x0a, 0x00, 0x00, 0x00, 0xff, 0xff],
        ],
    )
    .expect("init");
    // As in NUT, a short answer fills the start of the zeroed buffer; the rest reads as 0.
    assert_eq!(value(&r.tree, "battery.charge"), Some("0"));
    assert_eq!(value(&r.tree, "battery.voltage"), None);
    // 0x23 gave one of two bytes: the buffer's zero fills the rest.
    assert_eq!(value(&r.tree, "battery.runtime"), Some("34"));
    assert_eq!(value(&r.tree, "battery.type"), Some("PbAc"));
    assert_eq!(value(&r.tree, "ups.beeper.status"), Some("enabled"));
    r.backend
        .update(&mut r.tree, Instant::now())
        .expect("update");
    assert_eq!(value(&r.tree, "ups.status"), Some("OL DISCHRG"));
    for _ in 0..4 {
        r.backend
            .wait_event(&mut r.tree, Duration::from_millis(1))
            .expect("event");
    }
    assert_eq!(value(&r.tree, "ups.status"), Some("OB DISCHRG"));
    // Every polled read failing is a disconnection, not a panic and not stale values.
    let mut r = init(2, 0x051d, bytes(BK650M2), &[], &[]).expect("init");
    let later = Instant::now() + Duration::from_secs(31);
    match r.backend.update(&mut r.tree, later) {
        Err(BackendError::Disconnected(_)) => {}
        other => panic!("{other:?}"),
    }
}

/// A unit that is there but unusable at start-up (another program holds it, its interface
/// has no driver, its node may not be opened) does not stop the driver: init publishes no
/// device data, updates say so, and the first good reconnect publishes what a start with the
/// unit there does, `device.*` included.
#[test]
fn unavailable_at_start_is_taken_at_the_first_good_reconnect() {
    use std::cell::Cell;
    use std::rc::Rc;
    use usbhid_ups::transport::replay::ReplayDevice;
    let text = include_str!("../data/back-ups-bk650m2-ch.recording.toml");
    let rec = nut_hid_recording::Recording::parse(text, "r").unwrap();
    let free = Rc::new(Cell::new(false));
    let f2 = free.clone();
    let mut backend = HidBackend::new(Box::new(move || {
        if f2.get() {
            Ok(Box::new(ReplayDevice::new(&rec)) as Box<dyn Device>)
        } else {
            Err(DeviceError::Unavailable(
                "held by usbhid-ups (PID 1)".into(),
            ))
        }
    }));
    let started = nut_driver::init_tree(&mut backend, &config(&[]), &usbhid_ups::DRIVER)
        .expect("init does not stop the driver");
    assert_eq!(
        started.first_update,
        Err(BackendError::Disconnected(
            "the unit is not available yet".into()
        ))
    );
    let mut tree = started.tree;
    assert_eq!(value(&tree, "ups.status"), None);
    assert_eq!(value(&tree, "driver.name"), Some("usbhid-ups"));
    assert_eq!(
        backend.reconnect(&mut tree),
        Err(BackendError::Disconnected(
            "held by usbhid-ups (PID 1)".into()
        ))
    );
    free.set(true);
    backend.reconnect(&mut tree).expect("taken");
    backend.update(&mut tree, Instant::now()).expect("update");
    // The same tree as a start with the unit there.
    let normal = crate::common::start_with(text, &[]);
    let mut want = crate::common::vars(&normal.tree);
    let mut got = crate::common::vars(&tree);
    for t in [&mut want, &mut got] {
        t.retain(|k, _| k != "ups.status" && !k.starts_with("battery.runtime"));
    }
    assert_eq!(got, want);
    assert_eq!(value(&tree, "device.serial"), Some("9B2019A14274"));
    assert_eq!(
        tree.cmds().collect::<Vec<_>>(),
        normal.tree.cmds().collect::<Vec<_>>()
    );
}
