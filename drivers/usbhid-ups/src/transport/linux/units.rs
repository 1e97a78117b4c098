//! The USB devices with a HID interface, as sysfs shows them whether or not a hidraw node
//! exists: `<sysfs>/bus/usb/devices/` holds the devices (`1-4`, `1-4.2`) and their interfaces
//! (`1-4:1.0`, class in `bInterfaceClass`, driver behind the `driver` link). A unit whose
//! interface has no driver (a libusb program such as stock usbhid-ups detached usbhid and
//! left it so) or is claimed through usbfs has no hidraw node: [`State`] says which, and
//! [`Problem`] is the message that names the device and what to do.
//!
//! Hubs, devices with no HID interface and entries that do not read (a unit that vanishes
//! during the scan) are left out; nothing here panics on a strange tree.

use std::fs;
use std::path::{Path, PathBuf};

use crate::device::Identity;

/// The sysfs file usbhid is bound through.
pub(crate) const USBHID_BIND: &str = "bus/usb/drivers/usbhid/bind";

/// The udev rule this project ships, relative to the repository.
pub(crate) const UDEV_RULE: &str = "conf/udev/62-nut-rs-usbups.rules";

/// Its file name, as the package installs it under /lib/udev/rules.d.
pub(crate) const UDEV_RULE_NAME: &str = "62-nut-rs-usbups.rules";

/// A USB device with at least one HID interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsbUnit {
    /// Who it says it is, where it is.
    pub(crate) identity: Identity,
    /// The device directory (has `idVendor`).
    pub(crate) usb_dir: PathBuf,
    /// Its HID interfaces, by interface number.
    pub(crate) interfaces: Vec<HidInterface>,
}

/// One HID interface of a USB device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HidInterface {
    /// The interface's name (`1-4:1.0`), what `usbhid/bind` takes.
    pub(crate) name: String,
    /// The name of the driver bound to it (`usbhid`, `usbfs`), if any.
    pub(crate) driver: Option<String>,
    /// Its hidraw nodes (`hidraw0`), in number order.
    pub(crate) hidraw: Vec<String>,
}

/// What a unit's HID interface allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// usbhid is bound and made this hidraw node.
    Hidraw(String),
    /// No driver: nothing makes a hidraw node until usbhid is bound again.
    Unbound(String),
    /// Another driver holds the interface (`usbfs`: a libusb program claimed it).
    Claimed {
        /// The interface.
        interface: String,
        /// The driver's name.
        driver: String,
    },
    /// usbhid is bound but no hidraw node exists (the hidraw module is missing, or the node
    /// is still being made).
    NoHidraw(String),
}

impl UsbUnit {
    /// The unit as every message names it: ids, serial, bus, port, device number.
    pub(crate) fn label(&self) -> String {
        label(&self.identity)
    }

    /// The state of its first HID interface with a hidraw node, else of its first HID
    /// interface (a UPS has one).
    pub(crate) fn state(&self) -> State {
        if let Some(i) = self.interfaces.iter().find(|i| !i.hidraw.is_empty()) {
            return State::Hidraw(i.hidraw[0].clone());
        }
        let Some(i) = self.interfaces.first() else {
            // (never: units without a HID interface are not listed)
            return State::NoHidraw(String::new());
        };
        match i.driver.as_deref() {
            None => State::Unbound(i.name.clone()),
            Some("usbhid") => State::NoHidraw(i.name.clone()),
            Some(d) => State::Claimed {
                interface: i.name.clone(),
                driver: d.to_string(),
            },
        }
    }

    /// `/dev/bus/usb/BBB/DDD` under `dev`, when bus and device number are known.
    pub(crate) fn usbfs_node(&self, dev: &Path) -> Option<PathBuf> {
        Some(
            dev.join("bus/usb")
                .join(self.identity.bus.as_deref()?)
                .join(self.identity.device.as_deref()?),
        )
    }
}

/// A device as messages name it: `USB device 051d:0002 serial "9B2019A14274" on bus 001 port
/// 1-4 (device 004)`.
pub(crate) fn label(id: &Identity) -> String {
    let serial = match id.serial.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => format!("serial {s:?}"),
        _ => "no serial".to_string(),
    };
    let or_q = |s: &Option<String>| s.clone().unwrap_or_else(|| "?".into());
    format!(
        "USB device {:04x}:{:04x} {serial} on bus {} port {} (device {})",
        id.vendor_id,
        id.product_id,
        or_q(&id.bus),
        or_q(&id.port),
        or_q(&id.device)
    )
}

pub(crate) fn attr(dir: &Path, name: &str) -> Option<String> {
    let s = fs::read_to_string(dir.join(name)).ok()?;
    Some(s.trim_end_matches(['\n', '\r']).to_string())
}

fn hex_attr(dir: &Path, name: &str) -> Option<u16> {
    u16::from_str_radix(attr(dir, name)?.trim(), 16).ok()
}

fn num_attr(dir: &Path, name: &str) -> Option<String> {
    let n: u32 = attr(dir, name)?.trim().parse().ok()?;
    Some(format!("{n:03}"))
}

/// The identity of the USB device directory `usb_dir`; `None` when it has no ids (it
/// vanished, or it is no device).
pub(crate) fn identity_of(usb_dir: &Path) -> Option<Identity> {
    Some(Identity {
        vendor_id: hex_attr(usb_dir, "idVendor")?,
        product_id: hex_attr(usb_dir, "idProduct")?,
        bcd_device: hex_attr(usb_dir, "bcdDevice"),
        manufacturer: attr(usb_dir, "manufacturer"),
        product: attr(usb_dir, "product"),
        serial: attr(usb_dir, "serial"),
        bus: num_attr(usb_dir, "busnum"),
        device: num_attr(usb_dir, "devnum"),
        port: usb_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
    })
}

fn names(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The hidraw nodes under an interface directory (`<iface>/<hid>/hidraw/hidrawN`).
fn hidraw_nodes(iface: &Path) -> Vec<String> {
    let mut nodes: Vec<String> = names(iface)
        .into_iter()
        .flat_map(|child| names(&iface.join(child).join("hidraw")))
        .filter(|n| n.starts_with("hidraw"))
        .collect();
    nodes.sort_by_key(|n| n["hidraw".len()..].parse::<u32>().unwrap_or(u32::MAX));
    nodes
}

/// The HID interface `name` (`1-4:1.0`) under `<sysfs>/bus/usb/devices`, if it is one.
fn interface(devices: &Path, name: &str) -> Option<(u8, HidInterface)> {
    let dir = devices.join(name);
    if attr(&dir, "bInterfaceClass")?.trim() != "03" {
        return None;
    }
    let number = u8::from_str_radix(attr(&dir, "bInterfaceNumber")?.trim(), 16).ok()?;
    let driver = fs::read_link(dir.join("driver"))
        .ok()
        .and_then(|l| l.file_name().map(|n| n.to_string_lossy().into_owned()));
    Some((
        number,
        HidInterface {
            name: name.to_string(),
            driver,
            hidraw: hidraw_nodes(&dir),
        },
    ))
}

/// Every USB device under the sysfs root `sysfs` with a HID interface, in (bus, device
/// number) order: the order libusb, and so stock usbhid-ups, meets them in.
pub(crate) fn usb_hid_units(sysfs: &Path) -> Vec<UsbUnit> {
    let devices = sysfs.join("bus/usb/devices");
    let all = names(&devices);
    let mut units = Vec::new();
    for dev in all.iter().filter(|n| !n.contains(':')) {
        let prefix = format!("{dev}:");
        let mut ifaces: Vec<(u8, HidInterface)> = all
            .iter()
            .filter(|n| n.starts_with(&prefix))
            .filter_map(|n| interface(&devices, n))
            .collect();
        if ifaces.is_empty() {
            continue;
        }
        ifaces.sort_by_key(|(n, _)| *n);
        let Ok(usb_dir) = fs::canonicalize(devices.join(dev)) else {
            continue;
        };
        let Some(identity) = identity_of(&usb_dir) else {
            continue;
        };
        units.push(UsbUnit {
            identity,
            usb_dir,
            interfaces: ifaces.into_iter().map(|(_, i)| i).collect(),
        });
    }
    let key = |u: &UsbUnit| {
        let n = |s: &Option<String>| {
            s.as_deref()
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(u32::MAX)
        };
        (n(&u.identity.bus), n(&u.identity.device))
    };
    units.sort_by_key(key);
    units
}

/// A process that has a file open: its PID and program name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub(crate) pid: u32,
    pub(crate) program: String,
}

/// The processes under `/proc` (`proc_root`) with `node` open (one of their `fd/*` links
/// points at it). Processes this user may not look into are not seen.
pub(crate) fn holders(proc_root: &Path, node: &Path) -> Vec<Holder> {
    let mut found = Vec::new();
    for entry in names(proc_root) {
        let Ok(pid) = entry.parse::<u32>() else {
            continue;
        };
        let dir = proc_root.join(&entry);
        let holds = names(&dir.join("fd"))
            .into_iter()
            .any(|fd| fs::read_link(dir.join("fd").join(fd)).is_ok_and(|l| l == node));
        if !holds {
            continue;
        }
        let program = attr(&dir, "comm")
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "?".into());
        found.push(Holder { pid, program });
    }
    found.sort_by_key(|h| h.pid);
    found
}

/// Why a unit that matches cannot be read now, with what to do; the text names the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// No driver on its HID interface and no right to bind usbhid.
    Unbound {
        /// The unit.
        unit: String,
        /// The interface (`1-4:1.0`).
        interface: String,
        /// Why binding was not done (`binding usbhid needs root`, or the write's error).
        why: String,
    },
    /// Another program holds the interface.
    Claimed {
        unit: String,
        interface: String,
        driver: String,
        /// The usbfs node.
        node: Option<PathBuf>,
        holders: Vec<Holder>,
    },
    /// The hidraw node may not be opened.
    Permission {
        unit: String,
        node: PathBuf,
        /// `root:nut`.
        owner: String,
        mode: u32,
        /// `nut (uid 110, gid 115)`.
        user: String,
    },
    /// usbhid is bound but no hidraw node came.
    NoHidraw { unit: String, interface: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unbound {
                unit,
                interface,
                why,
            } => write!(
                f,
                "{unit}: interface {interface} has no kernel driver (a libusb program such as \
                 stock usbhid-ups detached usbhid and left it so) and {why}; as root run: echo \
                 {interface} > /sys/{USBHID_BIND} (or unplug and replug the unit); retrying"
            ),
            Problem::Claimed {
                unit,
                interface,
                driver,
                node,
                holders,
            } => {
                let node = node
                    .as_ref()
                    .map_or_else(|| "its usbfs node".into(), |n| n.display().to_string());
                write!(
                    f,
                    "{unit}: interface {interface} is claimed by another program (driver \
                     {driver}): "
                )?;
                if holders.is_empty() {
                    write!(
                        f,
                        "no process this driver may see has {node} open (as root: fuser -v \
                         {node}); stop that program"
                    )?;
                } else {
                    let list: Vec<String> = holders
                        .iter()
                        .map(|h| format!("{} (PID {})", h.program, h.pid))
                        .collect();
                    write!(f, "{node} is open in {}; stop ", list.join(", "))?;
                    if holders.iter().any(|h| h.program == "usbhid-ups") {
                        write!(
                            f,
                            "stock NUT's driver (upsdrvctl stop, or systemctl stop \
                             nut-driver.target)"
                        )?;
                    } else {
                        write!(f, "{}", if holders.len() > 1 { "them" } else { "it" })?;
                    }
                }
                write!(f, "; retrying until it is released")
            }
            Problem::Permission {
                unit,
                node,
                owner,
                mode,
                user,
            } => write!(
                f,
                "{unit}: cannot open {}: permission denied: it is {owner} mode {mode:04o} and \
                 this driver runs as {user}; the udev rule nut-rs ships gives the node to group \
                 nut: the package installs it as /lib/udev/rules.d/{UDEV_RULE_NAME} (from the \
                 source: copy {UDEV_RULE} to /etc/udev/rules.d/), then run: udevadm control \
                 --reload \
                 && udevadm trigger (or unplug and replug the unit); retrying",
                node.display()
            ),
            Problem::NoHidraw { unit, interface } => write!(
                f,
                "{unit}: usbhid is bound to interface {interface} but no hidraw node exists \
                 (is the hidraw module loaded? modprobe hid-generic); retrying"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        bk650m2, claim, sysfs, unbind, BK650M2_ON_1_4, BK650M2_ON_1_5, MOUSE_ON_1_6,
    };
    use std::os::unix::fs::symlink;

    #[test]
    fn lists_hid_devices_with_their_interface_state() {
        let t = sysfs(&[
            ("hidraw3", MOUSE_ON_1_6),
            ("hidraw1", BK650M2_ON_1_4),
            ("hidraw2", BK650M2_ON_1_5),
        ]);
        let sys = t.path().join("sys");
        unbind(&sys, "1-5");
        // A hub (interface class 09) and a device that vanished (no ids) are not listed.
        let devices = sys.join("bus/usb/devices");
        let hub = sys.join("devices/pci0000:00/0000:00:14.0/usb1/1-2");
        fs::create_dir_all(hub.join("1-2:1.0")).unwrap();
        fs::write(hub.join("idVendor"), "05e3\n").unwrap();
        fs::write(hub.join("idProduct"), "0608\n").unwrap();
        fs::write(hub.join("1-2:1.0/bInterfaceClass"), "09\n").unwrap();
        fs::write(hub.join("1-2:1.0/bInterfaceNumber"), "00\n").unwrap();
        symlink(&hub, devices.join("1-2")).unwrap();
        symlink(hub.join("1-2:1.0"), devices.join("1-2:1.0")).unwrap();
        let gone = sys.join("devices/pci0000:00/0000:00:14.0/usb1/1-3");
        fs::create_dir_all(gone.join("1-3:1.0")).unwrap();
        fs::write(gone.join("1-3:1.0/bInterfaceClass"), "03\n").unwrap();
        fs::write(gone.join("1-3:1.0/bInterfaceNumber"), "00\n").unwrap();
        symlink(&gone, devices.join("1-3")).unwrap();
        symlink(gone.join("1-3:1.0"), devices.join("1-3:1.0")).unwrap();
        // A dangling link (the device left between readdir and read).
        symlink(sys.join("nowhere"), devices.join("1-9")).unwrap();
        symlink(sys.join("nowhere"), devices.join("1-9:1.0")).unwrap();

        let units = usb_hid_units(&sys);
        let got: Vec<(String, State)> = units
            .iter()
            .map(|u| (u.identity.port.clone().unwrap(), u.state()))
            .collect();
        assert_eq!(
            got,
            [
                ("1-4".to_string(), State::Hidraw("hidraw1".into())),
                ("1-5".to_string(), State::Unbound("1-5:1.0".into())),
                ("1-6".to_string(), State::Hidraw("hidraw3".into())),
            ]
        );
        assert_eq!(units[0].identity, bk650m2());
        assert_eq!(
            units[0].label(),
            "USB device 051d:0002 serial \"9B2019A14274\" on bus 001 port 1-4 (device 004)"
        );
        assert_eq!(
            units[2].label(),
            "USB device 046d:c31c no serial on bus 001 port 1-6 (device 009)"
        );
        assert_eq!(
            units[0].usbfs_node(Path::new("/dev")),
            Some(PathBuf::from("/dev/bus/usb/001/004"))
        );
        claim(&sys, "1-4");
        assert_eq!(
            usb_hid_units(&sys)[0].state(),
            State::Claimed {
                interface: "1-4:1.0".into(),
                driver: "usbfs".into()
            }
        );
        assert!(usb_hid_units(&t.path().join("none")).is_empty());
    }

    #[test]
    fn holders_are_the_processes_with_the_node_open() {
        let t = tempfile::tempdir().unwrap();
        let proc_ = t.path();
        let node = Path::new("/dev/bus/usb/001/004");
        let add = |pid: &str, comm: &str, fds: &[&str]| {
            let d = proc_.join(pid);
            fs::create_dir_all(d.join("fd")).unwrap();
            fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
            for (i, f) in fds.iter().enumerate() {
                symlink(f, d.join("fd").join(i.to_string())).unwrap();
            }
        };
        add("1234", "usbhid-ups", &["/dev/null", "/dev/bus/usb/001/004"]);
        add("99", "lsusb", &["/dev/bus/usb/001/0041"]);
        add("7", "other", &["/dev/bus/usb/001/004"]);
        fs::create_dir_all(proc_.join("self")).unwrap();
        fs::create_dir_all(proc_.join("4321")).unwrap(); // no fd directory readable
        assert_eq!(
            holders(proc_, node),
            [
                Holder {
                    pid: 7,
                    program: "other".into()
                },
                Holder {
                    pid: 1234,
                    program: "usbhid-ups".into()
                }
            ]
        );
    }

    #[test]
    fn problem_texts() {
        let unit = label(&bk650m2());
        assert_eq!(
            Problem::Unbound {
                unit: unit.clone(),
                interface: "1-4:1.0".into(),
                why: "binding usbhid needs root".into()
            }
            .to_string(),
            "USB device 051d:0002 serial \"9B2019A14274\" on bus 001 port 1-4 (device 004): \
             interface 1-4:1.0 has no kernel driver (a libusb program such as stock \
             usbhid-ups detached usbhid and left it so) and binding usbhid needs root; as \
             root run: echo 1-4:1.0 > /sys/bus/usb/drivers/usbhid/bind (or unplug and replug \
             the unit); retrying"
        );
        let claimed = |holders: Vec<Holder>| {
            Problem::Claimed {
                unit: unit.clone(),
                interface: "1-4:1.0".into(),
                driver: "usbfs".into(),
                node: Some("/dev/bus/usb/001/004".into()),
                holders,
            }
            .to_string()
        };
        assert_eq!(
            claimed(vec![Holder {
                pid: 1234,
                program: "usbhid-ups".into()
            }]),
            "USB device 051d:0002 serial \"9B2019A14274\" on bus 001 port 1-4 (device 004): \
             interface 1-4:1.0 is claimed by another program (driver usbfs): \
             /dev/bus/usb/001/004 is open in usbhid-ups (PID 1234); stop stock NUT's driver \
             (upsdrvctl stop, or systemctl stop nut-driver.target); retrying until it is \
             released"
        );
        assert_eq!(
            claimed(vec![
                Holder {
                    pid: 5,
                    program: "a".into()
                },
                Holder {
                    pid: 6,
                    program: "b".into()
                }
            ]),
            format!(
                "{unit}: interface 1-4:1.0 is claimed by another program (driver usbfs): \
                 /dev/bus/usb/001/004 is open in a (PID 5), b (PID 6); stop them; retrying \
                 until it is released"
            )
        );
        assert_eq!(
            claimed(vec![]),
            format!(
                "{unit}: interface 1-4:1.0 is claimed by another program (driver usbfs): no \
                 process this driver may see has /dev/bus/usb/001/004 open (as root: fuser -v \
                 /dev/bus/usb/001/004); stop that program; retrying until it is released"
            )
        );
        assert_eq!(
            Problem::Permission {
                unit: unit.clone(),
                node: "/dev/hidraw0".into(),
                owner: "root:root".into(),
                mode: 0o600,
                user: "nut (uid 110, gid 115)".into()
            }
            .to_string(),
            format!(
                "{unit}: cannot open /dev/hidraw0: permission denied: it is root:root mode 0600 \
                 and this driver runs as nut (uid 110, gid 115); the udev rule nut-rs ships \
                 gives the node to group nut: the package installs it as \
                 /lib/udev/rules.d/62-nut-rs-usbups.rules (from the source: copy \
                 conf/udev/62-nut-rs-usbups.rules to /etc/udev/rules.d/), then run: udevadm \
                 control --reload \
                 && udevadm trigger (or unplug and replug the unit); retrying"
            )
        );
        assert_eq!(
            Problem::NoHidraw {
                unit: unit.clone(),
                interface: "1-4:1.0".into()
            }
            .to_string(),
            format!(
                "{unit}: usbhid is bound to interface 1-4:1.0 but no hidraw node exists (is the \
                 hidraw module loaded? modprobe hid-generic); retrying"
            )
        );
    }
}
