//! Which device the HID backend talks to, from the configuration: `recording = <file>` runs it
//! on a simulated unit played from a `nut-hid-recording/1` file (its `[[event]]` scenario
//! included; `simlog = <file>` logs the SET_REPORTs it receives); otherwise real hardware.
//! With `record = <file>`, the device, real or simulated, is recorded ([`RecordMode`]).

use std::path::{Path, PathBuf};

use nut_driver::{Backend, DriverConfig, OpenError, OpenFor};
use nut_hid_recording::Recording;

use crate::backend::HidBackend;
use crate::device::Device;
use crate::matcher::Matcher;
use crate::transport::record::RecordMode;
use crate::transport::replay::identity_of;
use crate::transport::sim::SimDevice;
use crate::Error;

/// The HID backend for `cfg` ([`nut_driver::DriverInfo::open`]). Nothing is recorded for
/// `-k` ([`OpenFor::KillPower`]): it would replace a recording the running driver is writing.
pub fn open_backend(cfg: &DriverConfig, purpose: OpenFor) -> Result<Box<dyn Backend>, OpenError> {
    let record = cfg
        .get("record")
        .filter(|_| purpose == OpenFor::Serve)
        .map(|f| RecordMode::new(PathBuf::from(f)));
    let backend = match cfg.get("recording") {
        Some(file) => simulated(cfg, file, record)?,
        None => hardware(cfg, record)?,
    };
    Ok(Box::new(backend))
}

/// A recorded device: `record`, if any, wraps each device the backend opens.
fn recorded(record: &mut Option<RecordMode>, dev: Box<dyn Device>) -> Box<dyn Device> {
    match record {
        Some(r) => r.wrap(dev),
        None => dev,
    }
}

/// The simulated unit of the recording `file` (relative: in the config directory, as
/// dummy-ups's port), if the ups.conf matching options accept it.
fn simulated(
    cfg: &DriverConfig,
    file: &str,
    mut record: Option<RecordMode>,
) -> Result<HidBackend, Error> {
    let path = nut_daemon::confpath().join(file);
    let text =
        std::fs::read_to_string(&path).map_err(|e| Error::io("reading recording", &path, e))?;
    let rec = Recording::parse(&text, file)?;
    let matcher = Matcher::new(|k| cfg.get(k))?;
    if let Some(option) = matcher.mismatch(&identity_of(&rec)) {
        return Err(Error::NoMatch {
            file: file.to_string(),
            option,
        });
    }
    let unit = SimDevice::new(&rec, file)?;
    if let Some(log) = cfg.get("simlog") {
        unit.log_sets_to(Path::new(log))
            .map_err(|e| Error::io("opening simlog", log, e))?;
    }
    Ok(HidBackend::new(Box::new(move || {
        let dev: Box<dyn Device> = Box::new(unit.reopen()?);
        Ok(recorded(&mut record, dev))
    })))
}

/// The first hidraw device that matches the ups.conf options and that a subdriver claims;
/// reconnects look for the same unit (serial, else port).
#[cfg(target_os = "linux")]
fn hardware(cfg: &DriverConfig, mut record: Option<RecordMode>) -> Result<HidBackend, Error> {
    use crate::device::{DeviceError, Identity};
    use crate::transport::linux::{find, find_same, HidrawDevice, DEV, SYSFS};
    let matcher = Matcher::new(|k| cfg.get(k))?;
    let productid_given = cfg.get("productid").is_some();
    let mut seen: Option<Identity> = None;
    Ok(HidBackend::new(Box::new(move || {
        let sysfs = Path::new(SYSFS);
        let info = match &seen {
            Some(before) => find_same(sysfs, before),
            None => find(sysfs, &matcher).into_iter().find(|i| {
                crate::backend::SUBDRIVERS
                    .iter()
                    .any(|s| (s.claim)(&i.identity, productid_given).claimed)
            }),
        };
        let info =
            info.ok_or_else(|| DeviceError::Disconnected("No matching HID UPS found".into()))?;
        let dev: Box<dyn Device> = Box::new(HidrawDevice::open(&info, Path::new(DEV))?);
        seen = Some(info.identity);
        Ok(recorded(&mut record, dev))
    })))
}

#[cfg(not(target_os = "linux"))]
fn hardware(_cfg: &DriverConfig, _record: Option<RecordMode>) -> Result<HidBackend, Error> {
    Err(Error::NoTransport)
}
