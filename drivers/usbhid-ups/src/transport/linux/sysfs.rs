//! Discovery through sysfs: `<sysfs>/class/hidraw/hidrawN/device` is the HID device; its
//! parent is the USB interface, whose parent is the USB device directory with `idVendor`,
//! `idProduct`, `bcdDevice`, `manufacturer`, `product`, `serial`, `busnum`, `devnum`; its name
//! is the port path (`1-4`). The sysfs root is a parameter so discovery and matching are
//! tested on a fake tree.

use std::fs;
use std::path::{Path, PathBuf};

pub(crate) use super::units::attr;
use super::units::identity_of;
use crate::device::Identity;

/// One hidraw node backed by a USB device, as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HidrawInfo {
    /// `hidraw0`.
    pub(crate) name: String,
    /// The HID device directory (has `report_descriptor`).
    pub(crate) hid_dir: PathBuf,
    /// The USB device directory (has `idVendor`).
    pub(crate) usb_dir: PathBuf,
    /// `bInterfaceNumber` of the interface the HID device sits on.
    pub(crate) interface: Option<u8>,
    pub(crate) identity: Identity,
    /// iManufacturer, iProduct, iSerialNumber from the sysfs `descriptors` file.
    pub(crate) string_indices: [u8; 3],
}

/// Describes `<sysfs>/class/hidraw/<name>`, or `None` when it is not on a USB device.
pub(crate) fn describe(sysfs: &Path, name: &str) -> Option<HidrawInfo> {
    let hid_dir = fs::canonicalize(sysfs.join("class/hidraw").join(name).join("device")).ok()?;
    let iface = hid_dir.parent()?;
    let usb_dir = iface.parent()?;
    let string_indices = fs::read(usb_dir.join("descriptors"))
        .ok()
        .filter(|d| d.len() >= 18)
        .map_or([0; 3], |d| [d[14], d[15], d[16]]);
    let identity = identity_of(usb_dir)?;
    Some(HidrawInfo {
        name: name.to_string(),
        hid_dir: hid_dir.clone(),
        usb_dir: usb_dir.to_path_buf(),
        interface: attr(iface, "bInterfaceNumber")
            .and_then(|s| u8::from_str_radix(s.trim(), 16).ok()),
        identity,
        string_indices,
    })
}

/// Every hidraw node on a USB device, in node-number order (the units, and the order the
/// driver takes them in, come from [`super::units`]). No hidraw class (no module loaded) is
/// an empty list.
#[cfg(test)]
pub(crate) fn discover(sysfs: &Path) -> Vec<HidrawInfo> {
    let Ok(dir) = fs::read_dir(sysfs.join("class/hidraw")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("hidraw"))
        .collect();
    let number = |n: &String| n["hidraw".len()..].parse::<u32>().unwrap_or(u32::MAX);
    names.sort_by_key(number);
    names.iter().filter_map(|n| describe(sysfs, n)).collect()
}
