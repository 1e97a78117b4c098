//! What the test modules share: a driver configuration, a variable's value, the APC
//! descriptors of nut-hid's fixtures (`drivers/nut-hid/tests/data`), and the HID backend
//! started on a replayed recording with a spy on what it asks the device.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use nut_driver::config::{split_xarg, DriverConfig, Setting};
use nut_driver::BackendError;
use nut_hid_recording::{hex_string as hex, Recording};
use nut_state::Tree;
use usbhid_ups::backend::HidBackend;
use usbhid_ups::device::{Device, DeviceError, Identity};
use usbhid_ups::transport::replay::ReplayDevice;

/// The Smart-UPS X 750 report descriptor, as hex.
pub(crate) const SMART_UPS_X: &str =
    include_str!("../../../nut-hid/tests/data/smart-ups-x-750.descriptor.hex");
/// The Back-UPS BK650M2-CH report descriptor, as hex.
pub(crate) const BK650M2: &str =
    include_str!("../../../nut-hid/tests/data/back-ups-bk650m2-ch.descriptor.hex");

/// A fixture file of nut-hid's tests.
pub(crate) fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../nut-hid/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Hex bytes separated by white space (anything else is skipped).
pub(crate) fn bytes(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

/// The configuration of UPS `ups` with the `-x` settings `x` (no ups.conf).
pub(crate) fn config(x: &[&str]) -> DriverConfig {
    let xs: Vec<Setting> = x.iter().map(|a| split_xarg(a)).collect();
    DriverConfig::build("usbhid-ups", "ups", None, &xs, usbhid_ups::OPTIONS).expect("config")
}

/// The value of variable `name`, if the tree has it.
pub(crate) fn value<'t>(t: &'t Tree, name: &str) -> Option<&'t str> {
    t.get(name).map(|v| v.raw())
}

/// A device that records what is sent to it, around the replay.
struct Spy {
    inner: ReplayDevice,
    sets: Rc<RefCell<Vec<String>>>,
    gets: Rc<RefCell<Vec<u8>>>,
    gone: Rc<RefCell<bool>>,
}

impl Device for Spy {
    fn identity(&self) -> &Identity {
        self.inner.identity()
    }
    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        self.inner.report_descriptor()
    }
    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        if *self.gone.borrow() {
            return Err(DeviceError::Disconnected("unplugged".into()));
        }
        self.gets.borrow_mut().push(id);
        self.inner.get_feature(id, len)
    }
    fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError> {
        self.sets.borrow_mut().push(hex(report));
        self.inner.set_feature(report)
    }
    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        self.inner.read_interrupt(timeout)
    }
    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        self.inner.string(index)
    }
}

/// A started backend on a replayed unit.
pub(crate) struct Unit {
    pub(crate) backend: HidBackend,
    pub(crate) tree: Tree,
    /// Every SET_REPORT, as hex.
    pub(crate) sets: Rc<RefCell<Vec<String>>>,
    /// The id of every GET_REPORT.
    pub(crate) gets: Rc<RefCell<Vec<u8>>>,
    /// Set it to unplug the unit (every GET_REPORT: disconnected).
    pub(crate) gone: Rc<RefCell<bool>>,
}

/// Starts the backend on the recording `text` the way the driver binary does
/// ([`nut_driver::init_tree`]: publish the configuration, init, first update, device.* copies),
/// with the `-x` settings `x`.
pub(crate) fn start_with(text: &str, x: &[&str]) -> Unit {
    try_start_with(text, x).expect("init")
}

/// [`start_with`], with the init error (a unit no subdriver claims, ...) returned.
pub(crate) fn try_start_with(text: &str, x: &[&str]) -> Result<Unit, BackendError> {
    let rec = Recording::parse(text, "recording").expect("recording parses");
    let sets = Rc::new(RefCell::new(Vec::new()));
    let gets = Rc::new(RefCell::new(Vec::new()));
    let gone = Rc::new(RefCell::new(false));
    let (s2, r2, g2) = (sets.clone(), gets.clone(), gone.clone());
    let mut backend = HidBackend::new(Box::new(move || {
        Ok(Box::new(Spy {
            inner: ReplayDevice::new(&rec),
            sets: s2.clone(),
            gets: r2.clone(),
            gone: g2.clone(),
        }) as Box<dyn Device>)
    }));
    let started = nut_driver::init_tree(&mut backend, &config(x), &usbhid_ups::DRIVER)?;
    started.first_update.expect("first update");
    let tree = started.tree;
    Ok(Unit {
        backend,
        tree,
        sets,
        gets,
        gone,
    })
}

/// Every variable of `t` with its value.
pub(crate) fn vars(t: &Tree) -> BTreeMap<String, String> {
    t.vars()
        .map(|v| (v.name().to_string(), v.raw().to_string()))
        .collect()
}
