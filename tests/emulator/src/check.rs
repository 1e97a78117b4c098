//! Which recordings the emulator serves ([`load`]): one it cannot present as a unit the kernel
//! would take is refused, with the reason, before anything is attached.
//!
//! Refused: a file that cannot be read or is not a valid recording; an empty report descriptor,
//! or one longer than the kernel's `HID_MAX_DESCRIPTOR_SIZE` (4096 bytes), or one that does not
//! parse; no Feature report at all (a HID UPS is read through them); a string index named by
//! `[usb.indices]` that `[strings]` lacks; a string longer than a string descriptor holds (126
//! UTF-16 units); a scenario event whose path names no field.

use std::path::Path;
use std::sync::Arc;

use nut_hid_recording::Recording;
use nut_hid_sim::{Clock, Unit};

use crate::descriptors::MAX_STRING_UNITS;
use crate::Error;

/// The kernel's `HID_MAX_DESCRIPTOR_SIZE`: usbhid refuses a longer report descriptor.
pub const HID_MAX_DESCRIPTOR_SIZE: usize = 4096;

/// Why `rec` cannot be served, if it cannot.
pub fn refusal(rec: &Recording) -> Option<String> {
    let len = rec.descriptor.len();
    if len == 0 {
        return Some("the report descriptor is empty".into());
    }
    if len > HID_MAX_DESCRIPTOR_SIZE {
        return Some(format!(
            "the report descriptor is {len} bytes, more than the kernel's \
             HID_MAX_DESCRIPTOR_SIZE ({HID_MAX_DESCRIPTOR_SIZE})"
        ));
    }
    if let Err(e) = nut_hid::parse(&rec.descriptor) {
        return Some(format!("report descriptor: {e}"));
    }
    if rec.feature.is_empty() {
        return Some(
            "no Feature report ([feature] is empty): a HID UPS is read through them".into(),
        );
    }
    let i = rec.usb.indices;
    for (name, index) in [
        ("manufacturer", i.manufacturer),
        ("product", i.product),
        ("serial", i.serial),
    ] {
        if let Some(n) = index.filter(|n| !rec.strings.contains_key(n)) {
            return Some(format!(
                "[usb.indices] {name} = {n} names no [strings] entry"
            ));
        }
    }
    for (n, s) in &rec.strings {
        let units = s.encode_utf16().count();
        if units > MAX_STRING_UNITS {
            return Some(format!(
                "string {n} is {units} UTF-16 units long, more than a string descriptor \
                 holds ({MAX_STRING_UNITS})"
            ));
        }
    }
    None
}

/// Reads the recording at `path` and makes it a unit on `clock`, or says why it cannot be
/// served ([`Error::Refused`], naming the file).
pub fn load(path: &Path, clock: Arc<dyn Clock>) -> Result<Unit, Error> {
    let file = path.display().to_string();
    let refused = |reason: String| Error::Refused {
        file: file.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| refused(e.to_string()))?;
    let rec = Recording::parse(&text, &file)
        .map_err(|e| refused(format!("line {}: {}", e.line, e.kind)))?;
    if let Some(reason) = refusal(&rec) {
        return Err(refused(reason));
    }
    Unit::with_clock(&rec, &file, &usbhid_ups::apc::usage_table(), clock)
        .map_err(|e| refused(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BK650: &str =
        include_str!("../../../drivers/usbhid-ups/tests/data/back-ups-bk650m2-ch.recording.toml");

    fn rec() -> Recording {
        Recording::parse(BK650, "bk650").unwrap()
    }

    #[test]
    fn the_bk650m2_is_served() {
        assert_eq!(refusal(&rec()), None);
    }

    #[test]
    fn what_is_refused_and_why() {
        let mut r = rec();
        r.descriptor.clear();
        assert_eq!(refusal(&r).unwrap(), "the report descriptor is empty");
        let mut r = rec();
        r.descriptor = r.descriptor.repeat(6);
        assert_eq!(
            refusal(&r).unwrap(),
            "the report descriptor is 4458 bytes, more than the kernel's \
             HID_MAX_DESCRIPTOR_SIZE (4096)"
        );
        let mut r = rec();
        r.feature.clear();
        assert!(refusal(&r).unwrap().starts_with("no Feature report"));
        let mut r = rec();
        r.strings.remove(&3);
        assert_eq!(
            refusal(&r).unwrap(),
            "[usb.indices] serial = 3 names no [strings] entry"
        );
        let mut r = rec();
        r.strings.insert(9, "x".repeat(127));
        assert!(refusal(&r)
            .unwrap()
            .starts_with("string 9 is 127 UTF-16 units"));
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = nut_hid_sim::ManualClock::new();
        let p = dir.path().join("nofeature.toml");
        let text = BK650.split("[feature]").next().unwrap().to_string();
        std::fs::write(&p, text).unwrap();
        let e = load(&p, clock.clone()).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: cannot serve: no Feature report ([feature] is empty): a HID UPS is read \
                 through them",
                p.display()
            )
        );
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, "format = \"nut-hid-recording/1\"\nnope = 1\n").unwrap();
        let e = load(&p, clock.clone()).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: cannot serve: line 2:", p.display())),
            "{e}"
        );
        let e = load(&dir.path().join("missing.toml"), clock).unwrap_err();
        assert!(matches!(e, Error::Refused { .. }), "{e}");
    }
}
