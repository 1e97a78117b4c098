//! From the ups.conf matching options to an open hidraw node, on the first plug-in as after
//! stock NUT: which units match ([`Plug::candidates`], in the order stock meets them), what
//! was seen ([`Plug::listing`], the `explore` view), and getting the chosen unit's node
//! ([`Plug::open`]): usbhid bound again to an interface left without a driver (only when
//! this process may, i.e. runs as root; one log line says so), or the [`Problem`] that names
//! the device and what to do (claimed by another program, no right to bind, a node it may not
//! open). A unit that vanishes between the scan and the open is [`Refusal::Vanished`].

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::sysfs::{describe, HidrawInfo};
use super::units::{holders, usb_hid_units, Holder, Problem, State, UsbUnit, USBHID_BIND};
use super::HidrawDevice;
use crate::device::{DeviceError, Identity};
use crate::matcher::Matcher;

/// How long a bound interface may take to get its hidraw node.
pub(crate) const HIDRAW_WAIT: Duration = Duration::from_secs(5);

/// Where the system's trees are, and whether usbhid may be bound.
#[derive(Debug, Clone)]
pub(crate) struct Plug {
    pub(crate) sysfs: PathBuf,
    pub(crate) dev: PathBuf,
    pub(crate) proc_: PathBuf,
    /// Write `usbhid/bind` for an interface without a driver (this process runs as root).
    pub(crate) may_bind: bool,
    /// A root binder was left behind before root was dropped ([`super::binder`]): it binds.
    pub(crate) binder: bool,
    pub(crate) hidraw_wait: Duration,
    /// udev's database (`/run/udev/data`): a node is ready once udev has an entry for it
    /// (its group and mode set by the rules); without udev, once it exists.
    pub(crate) udev_db: PathBuf,
}

/// Why no node was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The unit is there but cannot be read now: the message says why and what to do.
    Problem(Problem),
    /// The unit left between the scan and the open.
    Vanished(String),
    /// A moment: the binder is binding usbhid to the unit's interface, or udev is still
    /// setting up its new node (not worth a log line).
    Settling(String),
    /// The node opened but failed otherwise.
    Device(DeviceError),
}

impl Refusal {
    /// The device error the backend sees: a problem or a vanished unit is retried.
    pub(crate) fn into_device_error(self) -> DeviceError {
        match self {
            Refusal::Problem(p) => DeviceError::Unavailable(p.to_string()),
            Refusal::Vanished(s) | Refusal::Settling(s) => DeviceError::Disconnected(s),
            Refusal::Device(e) => e,
        }
    }
}

impl Plug {
    /// This system's `/sys`, `/dev`, `/proc`; binding when running as root.
    pub(crate) fn system() -> Plug {
        Plug {
            sysfs: PathBuf::from(super::SYSFS),
            dev: PathBuf::from(super::DEV),
            proc_: PathBuf::from("/proc"),
            may_bind: nix::unistd::Uid::effective().is_root() && !super::binder::running(),
            binder: super::binder::running(),
            hidraw_wait: HIDRAW_WAIT,
            udev_db: PathBuf::from("/run/udev/data"),
        }
    }

    /// Every USB device with a HID interface.
    pub(crate) fn units(&self) -> Vec<UsbUnit> {
        usb_hid_units(&self.sysfs)
    }

    /// Every USB device with a HID interface under the sysfs root `sysfs`.
    pub(crate) fn units_under(sysfs: &std::path::Path) -> Vec<UsbUnit> {
        usb_hid_units(sysfs)
    }

    /// The units `accept` takes, in (bus, device number) order.
    pub(crate) fn candidates(
        units: &[UsbUnit],
        accept: impl Fn(&Identity) -> bool,
    ) -> Vec<&UsbUnit> {
        units.iter().filter(|u| accept(&u.identity)).collect()
    }

    /// One line per unit seen: who it is, its interface's state, and whether the options take
    /// it (`claims` says whether a subdriver serves it).
    pub(crate) fn listing(
        units: &[UsbUnit],
        matcher: &Matcher,
        claims: impl Fn(&Identity) -> bool,
    ) -> Vec<String> {
        units
            .iter()
            .map(|u| {
                let text = |s: &Option<String>| format!("{:?}", s.as_deref().unwrap_or("").trim());
                let state = match u.state() {
                    State::Hidraw(n) => format!("usbhid, /dev/{n}"),
                    State::Unbound(i) => format!("interface {i} has no driver"),
                    State::Claimed { interface, driver } => {
                        format!("interface {interface} claimed by {driver}")
                    }
                    State::NoHidraw(i) => format!("interface {i} on usbhid without hidraw node"),
                };
                let verdict = match matcher.mismatch(&u.identity) {
                    Some(option) => format!("{option} does not match"),
                    None if !claims(&u.identity) => "no subdriver for it".to_string(),
                    None => "matches".to_string(),
                };
                format!(
                    "seen: {}: {} {}, {state}: {verdict}",
                    u.label(),
                    text(&u.identity.manufacturer),
                    text(&u.identity.product)
                )
            })
            .collect()
    }

    /// The hidraw node of `unit`, usbhid bound first when its interface has no driver and
    /// this process may bind (then one log line says what was done and why).
    pub(crate) fn ready(&self, unit: &UsbUnit) -> Result<HidrawInfo, Refusal> {
        let vanished = || {
            Refusal::Vanished(format!(
                "{} left the bus before it could be opened",
                unit.label()
            ))
        };
        let name = match unit.state() {
            State::Hidraw(name) => name,
            State::Unbound(interface) if self.may_bind => {
                if let Err(e) = std::fs::write(self.sysfs.join(USBHID_BIND), &interface) {
                    return Err(Refusal::Problem(Problem::Unbound {
                        unit: unit.label(),
                        interface,
                        why: format!("writing it to /sys/{USBHID_BIND} failed: {e}"),
                    }));
                }
                let Some(name) = self.wait_hidraw(unit) else {
                    return Err(Refusal::Problem(Problem::NoHidraw {
                        unit: unit.label(),
                        interface,
                    }));
                };
                tracing::warn!(
                    "{}: interface {interface} had no kernel driver (a libusb program such as \
                     stock usbhid-ups detached usbhid and left it so): bound usbhid to it, \
                     /dev/{name} is there",
                    unit.label()
                );
                name
            }
            State::Unbound(interface) if self.binder => {
                return Err(Refusal::Settling(format!(
                    "{}: interface {interface} was let go: usbhid is being bound to it",
                    unit.label()
                )))
            }
            State::Unbound(interface) => {
                return Err(Refusal::Problem(Problem::Unbound {
                    unit: unit.label(),
                    interface,
                    why: "binding usbhid needs root".into(),
                }))
            }
            State::Claimed { interface, driver } => {
                let node = unit.usbfs_node(&self.dev);
                let holders = node.as_deref().map(|n| self.holders(n)).unwrap_or_default();
                return Err(Refusal::Problem(Problem::Claimed {
                    unit: unit.label(),
                    interface,
                    driver,
                    node,
                    holders,
                }));
            }
            State::NoHidraw(interface) => {
                return Err(Refusal::Problem(Problem::NoHidraw {
                    unit: unit.label(),
                    interface,
                }))
            }
        };
        describe(&self.sysfs, &name).ok_or_else(vanished)
    }

    /// The processes with `node` open. Once root is dropped, /proc no longer shows another
    /// user's open files: then those seen as root before (still running) are named.
    fn holders(&self, node: &std::path::Path) -> Vec<Holder> {
        static SEEN_AS_ROOT: Mutex<Vec<(PathBuf, Holder)>> = Mutex::new(Vec::new());
        let Ok(mut seen) = SEEN_AS_ROOT.lock() else {
            return holders(&self.proc_, node);
        };
        let now = holders(&self.proc_, node);
        if !now.is_empty() {
            seen.retain(|(n, _)| n != node);
            seen.extend(now.iter().map(|h| (node.to_path_buf(), h.clone())));
            return now;
        }
        seen.iter()
            .filter(|(n, h)| n == node && self.proc_.join(h.pid.to_string()).exists())
            .map(|(_, h)| h.clone())
            .collect()
    }

    /// The unit's hidraw node once the kernel made it, within `hidraw_wait`.
    fn wait_hidraw(&self, unit: &UsbUnit) -> Option<String> {
        let end = Instant::now() + self.hidraw_wait;
        loop {
            let now = usb_hid_units(&self.sysfs)
                .into_iter()
                .find(|u| u.usb_dir == unit.usb_dir);
            if let Some(State::Hidraw(name)) = now.map(|u| u.state()) {
                // (and udev has made the node and applied its rules)
                if self.node_ready(&name) || Instant::now() >= end {
                    return Some(name);
                }
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether `/dev/<name>` exists and udev is done with it.
    fn node_ready(&self, name: &str) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(self.dev.join(name)) else {
            return false;
        };
        if !self.udev_db.is_dir() {
            return true;
        }
        let dev = meta.rdev();
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        self.udev_db.join(format!("c{major}:{minor}")).exists()
    }

    /// `unit`'s hidraw node, open; a node this user may not open is a
    /// [`Problem::Permission`], a node gone a [`Refusal::Vanished`].
    pub(crate) fn open(&self, unit: &UsbUnit) -> Result<HidrawDevice, Refusal> {
        let info = self.ready(unit)?;
        match HidrawDevice::open(&info, &self.dev) {
            Ok(d) => Ok(d),
            Err(DeviceError::Os {
                errno: Errno::EACCES | Errno::EPERM,
                ..
            }) if !self.node_ready(&info.name) => Err(Refusal::Settling(format!(
                "{}: /dev/{} is not ready yet (udev is applying its rules)",
                unit.label(),
                info.name
            ))),
            Err(DeviceError::Os {
                errno: Errno::EACCES | Errno::EPERM,
                ..
            }) => Err(Refusal::Problem(self.permission(unit, &info.name))),
            Err(DeviceError::Os {
                errno: Errno::ENOENT | Errno::ENODEV | Errno::ENXIO,
                ..
            }) => Err(Refusal::Vanished(format!(
                "{} left the bus before /dev/{} could be opened",
                unit.label(),
                info.name
            ))),
            Err(e) => Err(Refusal::Device(e)),
        }
    }

    /// The permission problem of `/dev/<name>`: its owner and mode, this process's user.
    fn permission(&self, unit: &UsbUnit, name: &str) -> Problem {
        use nix::unistd::{getegid, geteuid, Gid, Group, Uid, User};
        use std::os::unix::fs::MetadataExt;
        let node = self.dev.join(name);
        let user_name = |uid: u32| {
            User::from_uid(Uid::from_raw(uid))
                .ok()
                .flatten()
                .map_or_else(|| uid.to_string(), |u| u.name)
        };
        let group_name = |gid: u32| {
            Group::from_gid(Gid::from_raw(gid))
                .ok()
                .flatten()
                .map_or_else(|| gid.to_string(), |g| g.name)
        };
        let (owner, mode) = match std::fs::metadata(&node) {
            Ok(m) => (
                format!("{}:{}", user_name(m.uid()), group_name(m.gid())),
                m.mode() & 0o7777,
            ),
            Err(_) => ("?:?".into(), 0),
        };
        let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
        Problem::Permission {
            unit: unit.label(),
            node,
            owner,
            mode,
            user: format!("{} (uid {uid}, gid {gid})", user_name(uid)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{claim, sysfs, unbind, BK650M2_ON_1_4, BK650M2_ON_1_5, MOUSE_ON_1_6};
    use std::fs;

    fn plug(t: &tempfile::TempDir, may_bind: bool) -> Plug {
        Plug {
            sysfs: t.path().join("sys"),
            dev: t.path().join("dev"),
            proc_: t.path().join("proc"),
            may_bind,
            binder: false,
            hidraw_wait: Duration::from_millis(100),
            udev_db: t.path().join("run/udev/data"),
        }
    }

    fn two_units() -> tempfile::TempDir {
        sysfs(&[
            ("hidraw0", MOUSE_ON_1_6),
            ("hidraw1", BK650M2_ON_1_4),
            ("hidraw2", BK650M2_ON_1_5),
        ])
    }

    fn matcher(opts: &[(&str, &str)]) -> Matcher {
        Matcher::new(|k| opts.iter().find(|(o, _)| *o == k).map(|(_, v)| *v)).unwrap()
    }

    #[test]
    fn candidates_in_bus_order_and_the_listing() {
        let t = two_units();
        let p = plug(&t, false);
        unbind(&p.sysfs, "1-5");
        let units = p.units();
        let apc = |id: &Identity| id.vendor_id == 0x051d;
        let m = matcher(&[("vendorid", "051d")]);
        let c = Plug::candidates(&units, |id| m.matches(id) && apc(id));
        let ports: Vec<&str> = c
            .iter()
            .map(|u| u.identity.port.as_deref().unwrap())
            .collect();
        assert_eq!(ports, ["1-4", "1-5"]);
        let m = matcher(&[("serial", "3b1234.*")]);
        assert_eq!(
            Plug::listing(&units, &m, apc),
            [
                "seen: USB device 051d:0002 serial \"9B2019A14274\" on bus 001 port 1-4 \
                 (device 004): \"American Power Conversion\" \"Back-UPS BK650M2-CH \
                 FW:294803G -292804G\", usbhid, /dev/hidraw1: serial does not match",
                "seen: USB device 051d:0002 serial \"3B1234X56789\" on bus 001 port 1-5 \
                 (device 005): \"American Power Conversion\" \"Back-UPS BK650M2-CH \
                 FW:294803G -292804G\", interface 1-5:1.0 has no driver: matches",
                "seen: USB device 046d:c31c no serial on bus 001 port 1-6 (device 009): \
                 \"American Power Conversion\" \"Back-UPS BK650M2-CH FW:294803G -292804G\", \
                 usbhid, /dev/hidraw0: serial does not match",
            ]
        );
        let everything = Plug::listing(&units, &matcher(&[]), apc);
        assert!(
            everything[2].ends_with("usbhid, /dev/hidraw0: no subdriver for it"),
            "{everything:?}"
        );
    }

    #[test]
    fn unbound_interface_is_bound_when_allowed_else_named() {
        let t = two_units();
        let sys = t.path().join("sys");
        unbind(&sys, "1-5");
        let unit = |p: &Plug| {
            p.units()
                .into_iter()
                .find(|u| u.identity.device.as_deref() == Some("005"))
                .unwrap()
        };
        // No right to bind: the message with the command.
        let p = plug(&t, false);
        let Err(Refusal::Problem(e)) = p.ready(&unit(&p)) else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            "USB device 051d:0002 serial \"3B1234X56789\" on bus 001 port 1-5 (device 005): \
             interface 1-5:1.0 has no kernel driver (a libusb program such as stock usbhid-ups \
             detached usbhid and left it so) and binding usbhid needs root; as root run: echo \
             1-5:1.0 > /sys/bus/usb/drivers/usbhid/bind (or unplug and replug the unit); \
             retrying"
        );
        // Allowed: the interface name is written to usbhid/bind; no node comes in this fake
        // tree, so that is said.
        let p = plug(&t, true);
        let bind = sys.join("bus/usb/drivers/usbhid/bind");
        fs::write(&bind, "").unwrap();
        let Err(Refusal::Problem(e)) = p.ready(&unit(&p)) else {
            panic!()
        };
        assert_eq!(fs::read_to_string(&bind).unwrap(), "1-5:1.0");
        assert!(
            e.to_string()
                .contains("usbhid is bound to interface 1-5:1.0 but no hidraw node exists"),
            "{e}"
        );
        // The write fails (no such file: usbhid not loaded): named.
        fs::remove_dir_all(sys.join("bus/usb/drivers/usbhid")).unwrap();
        let Err(Refusal::Problem(e)) = p.ready(&unit(&p)) else {
            panic!()
        };
        assert!(
            e.to_string().contains(
                "and writing it to /sys/bus/usb/drivers/usbhid/bind failed: No such file or \
                 directory (os error 2); as root run: echo 1-5:1.0"
            ),
            "{e}"
        );
    }

    #[test]
    fn claimed_unit_names_who_holds_it() {
        let t = two_units();
        let p = plug(&t, true);
        claim(&p.sysfs, "1-4");
        let fd = p.proc_.join("4242/fd");
        fs::create_dir_all(&fd).unwrap();
        fs::write(p.proc_.join("4242/comm"), "usbhid-ups\n").unwrap();
        std::os::unix::fs::symlink(p.dev.join("bus/usb/001/004"), fd.join("5")).unwrap();
        let units = p.units();
        let Err(Refusal::Problem(e)) = p.ready(&units[0]) else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            format!(
                "USB device 051d:0002 serial \"9B2019A14274\" on bus 001 port 1-4 (device \
                 004): interface 1-4:1.0 is claimed by another program (driver usbfs): \
                 {}/bus/usb/001/004 is open in usbhid-ups (PID 4242); stop stock NUT's driver \
                 (upsdrvctl stop, or systemctl stop nut-driver.target); retrying until it is \
                 released",
                p.dev.display()
            )
        );
    }

    #[test]
    fn holders_seen_as_root_are_named_while_they_run() {
        let t = two_units();
        let p = plug(&t, false);
        let node = p.dev.join("bus/usb/001/077");
        let fd = p.proc_.join("4343/fd");
        fs::create_dir_all(&fd).unwrap();
        fs::write(p.proc_.join("4343/comm"), "usbhid-ups\n").unwrap();
        std::os::unix::fs::symlink(&node, fd.join("5")).unwrap();
        let stock = vec![Holder {
            pid: 4343,
            program: "usbhid-ups".into(),
        }];
        assert_eq!(p.holders(&node), stock);
        // its fd directory is no longer readable (root dropped): still named
        fs::remove_dir_all(&fd).unwrap();
        assert_eq!(p.holders(&node), stock);
        // it exited
        fs::remove_dir_all(p.proc_.join("4343")).unwrap();
        assert_eq!(p.holders(&node), []);
    }

    #[test]
    fn a_unit_that_vanishes_between_scan_and_open() {
        let t = two_units();
        let p = plug(&t, false);
        fs::create_dir_all(&p.dev).unwrap();
        let units = p.units();
        // The node is not in /dev (it went with the unit).
        let Err(Refusal::Vanished(why)) = p.open(&units[0]) else {
            panic!()
        };
        assert_eq!(
            why,
            "USB device 051d:0002 serial \"9B2019A14274\" on bus 001 port 1-4 (device 004) \
             left the bus before /dev/hidraw1 could be opened"
        );
        // Its sysfs entries went too.
        fs::remove_file(p.sysfs.join("class/hidraw/hidraw1")).unwrap();
        let Err(Refusal::Vanished(why)) = p.open(&units[0]) else {
            panic!()
        };
        assert!(
            why.ends_with("left the bus before it could be opened"),
            "{why}"
        );
        assert!(matches!(
            Refusal::Vanished(why).into_device_error(),
            DeviceError::Disconnected(_)
        ));
    }
}
