//! Record mode (`-x record=FILE`): write the device the driver talks to as a
//! `nut-hid-recording/1` ([`Recording::to_toml`]), so a user can attach it to a bug report and
//! anyone can replay it: USB identity, the string descriptors that exist, the report descriptor
//! and the GET_REPORT(Feature) answer of every Feature report id the descriptor declares (an id
//! the device refuses is left out, which is how a replay answers it: a stall).

use nut_hid::{Descriptor, ReportKind};

use super::device::{Device, DeviceError};
use super::recording::{Indices, Recording, Usb};

/// String indices tried by default (1..=this).
pub const DEFAULT_STRINGS_UP_TO: u8 = 32;

/// Reads `dev` into a recording. `desc` is its parsed report descriptor (before any subdriver
/// fix: only report ids and lengths are used). String indices 1..=`strings_up_to` are asked.
///
/// `[usb.indices]` are not visible through [`Device`]: each is the first string index whose
/// text equals the identity's manufacturer / product / serial.
///
/// Only a [`DeviceError::Disconnected`] aborts; a failed request leaves that item out.
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
            Ok(None) | Err(DeviceError::Failed(_)) => {}
            Err(e @ DeviceError::Disconnected(_)) => return Err(e),
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
            Ok(_) | Err(DeviceError::Failed(_)) => {}
            Err(e @ DeviceError::Disconnected(_)) => return Err(e),
        }
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::super::replay::{ManualClock, ReplayDevice};
    use super::*;

    const BK650: &str = include_str!("../../tests/data/back-ups-bk650m2-ch.recording.toml");

    #[test]
    fn recording_a_replay_gives_the_recording_back() {
        let original = Recording::parse(BK650, "bk650").unwrap();
        let mut dev = ReplayDevice::with_clock(&original, ManualClock::new());
        let desc = nut_hid::parse(&original.descriptor).unwrap();
        let rec = record(&mut dev, &desc, DEFAULT_STRINGS_UP_TO).unwrap();
        let mut expected = original.clone();
        // Interrupt reports are not recorded.
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
