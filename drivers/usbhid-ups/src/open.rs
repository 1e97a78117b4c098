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

/// Whether a subdriver serves the device.
fn served(id: &crate::device::Identity, productid_given: bool) -> bool {
    crate::backend::SUBDRIVERS
        .iter()
        .any(|s| (s.claim)(id, productid_given).claimed)
}

/// The unit the ups.conf section takes among `units`: the first match in (bus, device) order,
/// as stock usbhid-ups 2.8.0 takes the first libusb lists; and what to log about the choice
/// (several matches, each listed; none, with what was seen), under a key so that it is said
/// once.
#[cfg(target_os = "linux")]
fn choose<'a>(
    units: &'a [crate::transport::linux::UsbUnit],
    matcher: &Matcher,
    productid_given: bool,
) -> (
    Option<&'a crate::transport::linux::UsbUnit>,
    Option<(&'static str, Vec<String>)>,
) {
    use crate::transport::linux::Plug;
    let served = |id: &crate::device::Identity| served(id, productid_given);
    let found = Plug::candidates(units, |id| matcher.matches(id) && served(id));
    match found.as_slice() {
        [] => {
            let mut lines = vec![format!(
                "No matching HID UPS found among {} USB HID device(s)",
                units.len()
            )];
            lines.extend(Plug::listing(units, matcher, served));
            (None, Some(("no match", lines)))
        }
        [one] => (Some(*one), None),
        [first, ..] => {
            let all: Vec<String> = found.iter().map(|u| u.label()).collect();
            let line = format!(
                "ups.conf matches {} units: {}; taking the first, as stock usbhid-ups does \
                 (set serial or busport to choose)",
                found.len(),
                all.join("; "),
            );
            (Some(*first), Some(("several", vec![line])))
        }
    }
}

/// The unit that matches the ups.conf options and that a subdriver serves, on its hidraw
/// node (usbhid bound again first when its interface has none and this process may);
/// reconnects look for the same unit (serial, else port). A unit that is there but cannot be
/// used is logged with what to do, once per distinct reason, and retried.
#[cfg(target_os = "linux")]
fn hardware(cfg: &DriverConfig, mut record: Option<RecordMode>) -> Result<HidBackend, Error> {
    use crate::device::{DeviceError, Identity};
    use crate::matcher::same_unit;
    use crate::transport::linux::{Plug, Refusal};
    let matcher = Matcher::new(|k| cfg.get(k))?;
    let productid_given = cfg.get("productid").is_some();
    let plug = Plug::system();
    if cfg.has("explore") {
        let units = plug.units();
        for l in Plug::listing(&units, &matcher, |id| served(id, productid_given)) {
            tracing::info!("{l}");
        }
    }
    let mut seen: Option<Identity> = None;
    let mut said: Option<String> = None;
    Ok(HidBackend::new(Box::new(move || {
        let units = plug.units();
        let unit = match &seen {
            Some(before) => units.iter().find(|u| same_unit(before, &u.identity)),
            None => {
                let (unit, say) = choose(&units, &matcher, productid_given);
                if let Some((key, lines)) = say {
                    if said.as_deref() != Some(key) {
                        for l in lines {
                            tracing::warn!("{l}");
                        }
                        said = Some(key.to_string());
                    }
                }
                unit
            }
        };
        let unit =
            unit.ok_or_else(|| DeviceError::Disconnected("No matching HID UPS found".into()))?;
        match plug.open(unit) {
            Ok(dev) => {
                if said.take().is_some_and(|s| s != "several") {
                    tracing::warn!("{}: free now, reading it", unit.label());
                }
                seen = Some(dev.identity().clone());
                Ok(recorded(&mut record, Box::new(dev)))
            }
            Err(refusal) => {
                // each new reason once (the core retries quietly); a moment's wait, never
                let level = match &refusal {
                    Refusal::Problem(_) => Some(tracing::Level::ERROR),
                    Refusal::Vanished(_) | Refusal::Device(_) => Some(tracing::Level::WARN),
                    Refusal::Settling(_) => None,
                };
                let e = refusal.into_device_error();
                let text = e.detail();
                match level {
                    Some(_) if said.as_deref() == Some(text.as_str()) => {}
                    Some(tracing::Level::ERROR) => tracing::error!("{text}"),
                    Some(_) => tracing::warn!("{text}"),
                    None => tracing::debug!("{text}"),
                }
                if level.is_some() {
                    said = Some(text);
                }
                Err(e)
            }
        }
    })))
}

/// Before the driver drops root ([`nut_driver::DriverInfo::prepare`]): usbhid bound again to
/// the interface of the unit the ups.conf section takes when a libusb program (stock
/// usbhid-ups) left it without a driver, and its hidraw node waited for; when a program still
/// holds it, a process that keeps root to bind it once that program lets go
/// ([`binder`](crate::transport::linux::binder)). Only when running as root and on hardware;
/// anything else is said later, when the backend opens the unit.
#[cfg(target_os = "linux")]
pub(crate) fn prepare(cfg: &DriverConfig) {
    use crate::transport::linux::{binder, Plug, Problem, Refusal, State};
    if cfg.get("recording").is_some() || cfg.get("backend").is_some() {
        return;
    }
    let plug = Plug::system();
    if !plug.may_bind {
        return;
    }
    let Ok(matcher) = Matcher::new(|k| cfg.get(k)) else {
        return;
    };
    let productid_given = cfg.get("productid").is_some();
    let units = plug.units();
    let first = Plug::candidates(&units, |id| {
        matcher.matches(id) && served(id, productid_given)
    })
    .into_iter()
    .next();
    let Some(unit) = first else { return };
    match plug.ready(unit) {
        // (a claim's holders are noted as root sees them, for the message after root is
        // dropped)
        Err(Refusal::Problem(p @ Problem::Claimed { .. })) => {
            tracing::debug!("before dropping root: {p}");
        }
        // binding failed: why, as root sees it (the message without root follows)
        Err(Refusal::Problem(p)) => tracing::warn!("as root: {p}"),
        _ => {}
    }
    if let State::Claimed { .. } = unit.state() {
        // bound when the program holding it lets go, by a process that keeps root for it
        if let Err(e) = binder::spawn(&plug, unit) {
            tracing::warn!(
                "{}: cannot leave a process to bind usbhid later: {e}",
                unit.label()
            );
        }
    }
}

/// No USB transport to prepare outside Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn prepare(_cfg: &DriverConfig) {}

#[cfg(not(target_os = "linux"))]
fn hardware(_cfg: &DriverConfig, _record: Option<RecordMode>) -> Result<HidBackend, Error> {
    Err(Error::NoTransport)
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;
    use crate::fixtures::{sysfs, BK650M2_ON_1_4, BK650M2_ON_1_5, MOUSE_ON_1_6};
    use crate::transport::linux::Plug;

    fn pick(opts: &[(&str, &str)]) -> (Option<String>, Option<(&'static str, Vec<String>)>) {
        let t = sysfs(&[
            ("hidraw0", MOUSE_ON_1_6),
            ("hidraw1", BK650M2_ON_1_5),
            ("hidraw2", BK650M2_ON_1_4),
        ]);
        let units = Plug::units_under(&t.path().join("sys"));
        let m = Matcher::new(|k| opts.iter().find(|(o, _)| *o == k).map(|(_, v)| *v)).unwrap();
        let (unit, say) = choose(&units, &m, false);
        (unit.and_then(|u| u.identity.port.clone()), say)
    }

    #[test]
    fn several_matches_take_the_first_and_say_so() {
        let (unit, say) = pick(&[("vendorid", "051d")]);
        assert_eq!(unit.as_deref(), Some("1-4"));
        assert_eq!(
            say,
            Some((
                "several",
                vec![
                    "ups.conf matches 2 units: USB device 051d:0002 serial \"9B2019A14274\" on \
                      bus 001 port 1-4 (device 004); USB device 051d:0002 serial \
                      \"3B1234X56789\" on bus 001 port 1-5 (device 005); taking the first, as \
                      stock usbhid-ups does (set serial or busport to choose)"
                        .to_string()
                ]
            ))
        );
        // serial, busport, device choose one; the mouse is never taken.
        for opts in [
            [("serial", "3B1234X56789")],
            [("busport", "1-5")],
            [("device", "005")],
        ] {
            assert_eq!(pick(&opts), (Some("1-5".into()), None), "{opts:?}");
        }
        let (unit, say) = pick(&[("product", "Back-UPS.*"), ("bus", "001")]);
        assert_eq!(unit.as_deref(), Some("1-4"));
        assert_eq!(say.map(|s| s.0), Some("several"));
        let (unit, say) = pick(&[("serial", "NOPE")]);
        assert_eq!(unit, None);
        let (key, lines) = say.unwrap();
        assert_eq!(key, "no match");
        assert_eq!(
            lines[0],
            "No matching HID UPS found among 3 USB HID device(s)"
        );
        assert_eq!(lines.len(), 4);
        assert!(lines[1].ends_with(": serial does not match"), "{lines:?}");
    }
}
