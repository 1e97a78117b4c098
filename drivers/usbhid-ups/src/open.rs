//! Which device the HID backend talks to, from the configuration: `recording = <file>` runs it
//! on a simulated unit played from a `nut-hid-recording/1` file (its `[[event]]` scenario
//! included; `simlog = <file>` logs the SET_REPORTs it receives); otherwise real hardware.
//! With `record = <file>`, the device, real or simulated, is recorded ([`RecordMode`]).

use std::path::{Path, PathBuf};

use nut_driver::{Backend, DriverConfig, OpenError, OpenFor, Prepare};
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

/// The unit the ups.conf section takes among `units`: the one that matches and that a
/// subdriver serves. None when no unit matches (with what was seen), and none when several
/// do (each listed): which UPS a host's shutdown follows is not left to bus order. Stock
/// usbhid-ups 2.8.0 takes the first libusb lists; a section that names one unit (`serial`,
/// `busport`) behaves the same in both. The lines to log come under a key so that they are
/// said once.
#[cfg(target_os = "linux")]
fn choose<'a>(
    units: &'a [crate::transport::linux::UsbUnit],
    matcher: &Matcher,
    productid_given: bool,
) -> Result<&'a crate::transport::linux::UsbUnit, (&'static str, Vec<String>)> {
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
            Err((NO_MATCH, lines))
        }
        [one] => Ok(one),
        several => {
            let all: Vec<String> = several.iter().map(|u| u.label()).collect();
            Err((
                SEVERAL,
                vec![format!(
                    "ups.conf matches {} units, taking none: {} (set serial or busport to \
                     choose one)",
                    several.len(),
                    all.join("; "),
                )],
            ))
        }
    }
}

/// [`choose`]'s keys.
#[cfg(target_os = "linux")]
const NO_MATCH: &str = "No matching HID UPS found";
#[cfg(target_os = "linux")]
const SEVERAL: &str = "ups.conf matches several units";

/// The unit that matches the ups.conf options and that a subdriver serves, on its hidraw
/// node (usbhid bound again first when its interface has none and this process may);
/// reconnects look for the same unit (serial, else port). A unit that is there but cannot be
/// used is logged with what to do, once per distinct reason, and retried.
#[cfg(target_os = "linux")]
fn hardware(cfg: &DriverConfig, mut record: Option<RecordMode>) -> Result<HidBackend, Error> {
    use crate::device::{DeviceError, Identity};
    use crate::matcher::same_unit;
    use crate::transport::linux::{Plug, Problem, Refusal};
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
    let mut was_claimed = false;
    Ok(HidBackend::new(Box::new(move || {
        let units = plug.units();
        let unit = match &seen {
            Some(before) => units.iter().find(|u| same_unit(before, &u.identity)),
            None => match choose(&units, &matcher, productid_given) {
                Ok(unit) => Some(unit),
                Err((key, lines)) => {
                    if said.as_deref() != Some(key) {
                        for l in lines {
                            tracing::warn!("{l}");
                        }
                        said = Some(key.to_string());
                    }
                    return Err(DeviceError::Disconnected(key.into()));
                }
            },
        };
        let unit = unit.ok_or_else(|| DeviceError::Disconnected(NO_MATCH.into()))?;
        match plug.open(unit) {
            Ok(dev) => {
                if said.take().is_some() {
                    tracing::warn!("{}: free now, reading it", unit.label());
                }
                seen = Some(dev.identity().clone());
                Ok(recorded(&mut record, Box::new(dev)))
            }
            Err(refusal) => {
                let refusal = match refusal {
                    // A claim just went: the binder that `upsdrvctl prepare` left with root
                    // binds usbhid within moments; one retry's grace before saying that
                    // binding needs root.
                    Refusal::Problem(Problem::Unbound {
                        unit, interface, ..
                    }) if was_claimed && !plug.may_bind => Refusal::Settling(format!(
                        "{unit}: interface {interface} was let go: waiting for usbhid to be \
                         bound to it"
                    )),
                    r => r,
                };
                was_claimed = matches!(refusal, Refusal::Problem(Problem::Claimed { .. }));
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
/// ([`binder`](crate::transport::linux::binder)), which outlives this process when no driver
/// follows in it ([`Prepare::Alone`]). Only when running as root and on hardware; anything
/// else is said later, when the backend opens the unit.
#[cfg(target_os = "linux")]
pub(crate) fn prepare(cfg: &DriverConfig, then: Prepare) {
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
    // (only a unit the section takes: one match)
    let Ok(unit) = choose(&units, &matcher, productid_given) else {
        return;
    };
    match plug.ready(unit) {
        // A claim's holders are noted as root sees them, for the driver's message once root
        // is dropped; a driver that runs without root from the start (`--prepare` before it)
        // may not see them, so this process names them.
        Err(Refusal::Problem(p @ Problem::Claimed { .. })) => match then {
            Prepare::Alone => tracing::error!("{p}"),
            _ => tracing::debug!("before dropping root: {p}"),
        },
        // binding failed: why, as root sees it (the message without root follows)
        Err(Refusal::Problem(p)) => tracing::warn!("as root: {p}"),
        _ => {}
    }
    if let State::Claimed { .. } = unit.state() {
        // bound when the program holding it lets go, by a process that keeps root for it
        if let Err(e) = binder::spawn(&plug, unit, then == Prepare::Driver) {
            tracing::warn!(
                "{}: cannot leave a process to bind usbhid later: {e}",
                unit.label()
            );
        }
    }
}

/// No USB transport to prepare outside Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn prepare(_cfg: &DriverConfig, _then: Prepare) {}

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

    fn pick(opts: &[(&str, &str)]) -> Result<String, (&'static str, Vec<String>)> {
        let t = sysfs(&[
            ("hidraw0", MOUSE_ON_1_6),
            ("hidraw1", BK650M2_ON_1_5),
            ("hidraw2", BK650M2_ON_1_4),
        ]);
        let units = Plug::units_under(&t.path().join("sys"));
        let m = Matcher::new(|k| opts.iter().find(|(o, _)| *o == k).map(|(_, v)| *v)).unwrap();
        choose(&units, &m, false).map(|u| u.identity.port.clone().unwrap())
    }

    #[test]
    fn a_section_matching_several_units_takes_none_and_lists_them() {
        let several = Err((
            SEVERAL,
            vec![
                "ups.conf matches 2 units, taking none: USB device 051d:0002 serial \
                 \"9B2019A14274\" on bus 001 port 1-4 (device 004); USB device 051d:0002 serial \
                 \"3B1234X56789\" on bus 001 port 1-5 (device 005) (set serial or busport to \
                 choose one)"
                    .to_string(),
            ],
        ));
        assert_eq!(pick(&[("vendorid", "051d")]), several);
        assert_eq!(pick(&[("product", "Back-UPS.*"), ("bus", "001")]), several);
        // serial, busport, device choose one; the mouse is never taken.
        for opts in [
            [("serial", "3B1234X56789")],
            [("busport", "1-5")],
            [("device", "005")],
        ] {
            assert_eq!(pick(&opts), Ok("1-5".into()), "{opts:?}");
        }
        assert_eq!(pick(&[("serial", "9b2019.*")]), Ok("1-4".into()));
        let Err((key, lines)) = pick(&[("serial", "NOPE")]) else {
            panic!("a unit taken")
        };
        assert_eq!(key, NO_MATCH);
        assert_eq!(
            lines[0],
            "No matching HID UPS found among 3 USB HID device(s)"
        );
        assert_eq!(lines.len(), 4);
        assert!(lines[1].ends_with(": serial does not match"), "{lines:?}");
    }
}
