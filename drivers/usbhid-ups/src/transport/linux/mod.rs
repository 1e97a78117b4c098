//! Real hardware on Linux through the kernel's hidraw nodes: the usbhid driver stays attached
//! (nothing is detached or claimed), so other programs keep working and a driver crash cannot
//! leave the UPS unbound.
//!
//! * Discovery ([`discover`], [`find`]): `<sysfs>/class/hidraw/hidrawN/device` is the HID
//!   device; its parent is the USB interface, whose parent is the USB device directory with
//!   `idVendor`, `idProduct`, `bcdDevice`, `manufacturer`, `product`, `serial`, `busnum`,
//!   `devnum`; its name is the port path (`1-4`). The sysfs root is a parameter so discovery
//!   and matching are tested on a fake tree.
//! * [`HidrawDevice`]: `/dev/hidrawN`; report descriptor by `HIDIOCGRDESC` (else the sysfs
//!   `report_descriptor` file); GET/SET_REPORT(Feature) by `HIDIOCGFEATURE`/`HIDIOCSFEATURE`;
//!   interrupt-IN reports by `read()` after `poll()`. ENODEV/ENOENT/EIO/ESHUTDOWN (the unit was
//!   unplugged) give [`DeviceError::Disconnected`], anything else (EPIPE = STALL, timeouts)
//!   [`DeviceError::Failed`].
//! * String descriptors by index (hidraw cannot fetch arbitrary ones): a standard
//!   GET_DESCRIPTOR(STRING) control request on the usbfs node `/dev/bus/usb/BBB/DDD`
//!   (`USBDEVFS_CONTROL`; device-recipient standard requests need no claimed interface), and
//!   when usbfs cannot be used, the sysfs `manufacturer`/`product`/`serial` files for the
//!   indices the sysfs `descriptors` file names.
//! * Reconnect: [`find_same`] looks for the unit seen before ([`same_unit`]: serial, else port).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;

use super::device::{Device, DeviceError, Identity};
use super::matcher::{same_unit, Matcher};

/// Where sysfs and /dev normally are.
pub const SYSFS: &str = "/sys";
pub const DEV: &str = "/dev";

/// NUT's USB_TIMEOUT for control requests.
const CONTROL_TIMEOUT_MS: u32 = 5000;

mod sys {
    //! The ioctls (numbers from linux/hidraw.h and linux/usbdevice_fs.h).
    #![allow(clippy::missing_safety_doc)]

    /// `struct hidraw_report_descriptor` (HID_MAX_DESCRIPTOR_SIZE 4096).
    #[repr(C)]
    pub struct ReportDescriptor {
        pub size: u32,
        pub value: [u8; 4096],
    }

    /// `struct usbdevfs_ctrltransfer`.
    #[repr(C)]
    pub struct CtrlTransfer {
        pub request_type: u8,
        pub request: u8,
        pub value: u16,
        pub index: u16,
        pub length: u16,
        pub timeout: u32,
        pub data: *mut libc::c_void,
    }

    nix::ioctl_read!(hidiocgrdescsize, b'H', 0x01, libc::c_int);
    nix::ioctl_read!(hidiocgrdesc, b'H', 0x02, ReportDescriptor);
    nix::ioctl_readwrite_buf!(hidiocsfeature, b'H', 0x06, u8);
    nix::ioctl_readwrite_buf!(hidiocgfeature, b'H', 0x07, u8);
    nix::ioctl_readwrite!(usbdevfs_control, b'U', 0, CtrlTransfer);
}

/// Errors that mean the unit is gone.
fn is_gone(e: Errno) -> bool {
    matches!(
        e,
        Errno::ENODEV | Errno::ENOENT | Errno::EIO | Errno::ESHUTDOWN | Errno::ENXIO
    )
}

/// Maps a system error of `what` to the device error the backend acts on.
pub fn device_error(what: &str, e: Errno) -> DeviceError {
    if is_gone(e) {
        DeviceError::Disconnected(format!("{what}: {e}"))
    } else {
        DeviceError::Failed(format!("{what}: {e}"))
    }
}

fn io_error(what: &str, e: &io::Error) -> DeviceError {
    device_error(what, Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// One hidraw node backed by a USB device, as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidrawInfo {
    /// `hidraw0`.
    pub name: String,
    /// The HID device directory (has `report_descriptor`).
    pub hid_dir: PathBuf,
    /// The USB device directory (has `idVendor`).
    pub usb_dir: PathBuf,
    /// `bInterfaceNumber` of the interface the HID device sits on.
    pub interface: Option<u8>,
    pub identity: Identity,
    /// iManufacturer, iProduct, iSerialNumber from the sysfs `descriptors` file.
    pub string_indices: [u8; 3],
}

fn attr(dir: &Path, name: &str) -> Option<String> {
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

/// Describes `<sysfs>/class/hidraw/<name>`, or `None` when it is not on a USB device.
fn describe(sysfs: &Path, name: &str) -> Option<HidrawInfo> {
    let hid_dir = fs::canonicalize(sysfs.join("class/hidraw").join(name).join("device")).ok()?;
    let iface = hid_dir.parent()?;
    let usb_dir = iface.parent()?;
    let vendor_id = hex_attr(usb_dir, "idVendor")?;
    let product_id = hex_attr(usb_dir, "idProduct")?;
    let string_indices = fs::read(usb_dir.join("descriptors"))
        .ok()
        .filter(|d| d.len() >= 18)
        .map_or([0; 3], |d| [d[14], d[15], d[16]]);
    let identity = Identity {
        vendor_id,
        product_id,
        bcd_device: hex_attr(usb_dir, "bcdDevice"),
        manufacturer: attr(usb_dir, "manufacturer"),
        product: attr(usb_dir, "product"),
        serial: attr(usb_dir, "serial"),
        bus: num_attr(usb_dir, "busnum"),
        device: num_attr(usb_dir, "devnum"),
        port: usb_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
    };
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

/// Every hidraw node on a USB device, in node-number order. No hidraw class (no module
/// loaded) is an empty list.
pub fn discover(sysfs: &Path) -> Vec<HidrawInfo> {
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

/// The hidraw nodes whose USB device the ups.conf options accept.
pub fn find(sysfs: &Path, matcher: &Matcher) -> Vec<HidrawInfo> {
    discover(sysfs)
        .into_iter()
        .filter(|i| matcher.matches(&i.identity))
        .collect()
}

/// After a reconnect: the node of the unit that was `before` (its number may have changed).
pub fn find_same(sysfs: &Path, before: &Identity) -> Option<HidrawInfo> {
    discover(sysfs)
        .into_iter()
        .find(|i| same_unit(before, &i.identity))
}

/// A USB string descriptor answer -> text (`None` if it is not a string descriptor).
pub fn decode_string_descriptor(buf: &[u8]) -> Option<String> {
    if buf.len() < 2 || buf[1] != 0x03 {
        return None;
    }
    let len = usize::from(buf[0]).min(buf.len());
    let units: Vec<u16> = buf
        .get(2..len)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// An open hidraw node.
#[derive(Debug)]
pub struct HidrawDevice {
    file: File,
    info: HidrawInfo,
    usbfs: PathBuf,
    /// Language id for string requests, learned from string descriptor 0.
    langid: Option<u16>,
}

impl HidrawDevice {
    /// Opens `<dev>/<info.name>` (and will use `<dev>/bus/usb/BBB/DDD` for strings).
    pub fn open(info: &HidrawInfo, dev: &Path) -> Result<Self, DeviceError> {
        let node = dev.join(&info.name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&node)
            .map_err(|e| io_error(&format!("open {}", node.display()), &e))?;
        let usbfs = dev
            .join("bus/usb")
            .join(info.identity.bus.as_deref().unwrap_or(""))
            .join(info.identity.device.as_deref().unwrap_or(""));
        Ok(HidrawDevice {
            file,
            info: info.clone(),
            usbfs,
            langid: None,
        })
    }

    /// What discovery said about this node.
    pub fn info(&self) -> &HidrawInfo {
        &self.info
    }

    fn descriptor_ioctl(&self) -> Result<Vec<u8>, Errno> {
        let fd = self.file.as_raw_fd();
        let mut size: libc::c_int = 0;
        // SAFETY: fd is open for the lifetime of self; `size` is a valid c_int to write.
        unsafe { sys::hidiocgrdescsize(fd, &mut size) }?;
        let mut desc = Box::new(sys::ReportDescriptor {
            size: u32::try_from(size).unwrap_or(0).min(4096),
            value: [0; 4096],
        });
        // SAFETY: desc is a properly sized, initialised hidraw_report_descriptor.
        unsafe { sys::hidiocgrdesc(fd, &mut *desc) }?;
        let n = (desc.size as usize).min(4096);
        Ok(desc.value[..n].to_vec())
    }

    /// One control request on usbfs; EPIPE (STALL) is `Ok(None)`.
    fn usbfs_string(&self, index: u8, langid: u16) -> io::Result<Option<String>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&self.usbfs)?;
        let mut buf = [0u8; 255];
        let mut ctl = sys::CtrlTransfer {
            request_type: 0x80,
            request: 0x06,
            value: 0x0300 | u16::from(index),
            index: langid,
            length: buf.len() as u16,
            timeout: CONTROL_TIMEOUT_MS,
            data: buf.as_mut_ptr().cast(),
        };
        // SAFETY: ctl.data points to `buf`, alive and `length` bytes long during the call.
        match unsafe { sys::usbdevfs_control(f.as_raw_fd(), &mut ctl) } {
            Ok(n) => {
                let n = usize::try_from(n).unwrap_or(0).min(buf.len());
                Ok(decode_string_descriptor(&buf[..n]))
            }
            Err(Errno::EPIPE) => Ok(None),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// The string from sysfs, for the three indices the device descriptor names.
    fn sysfs_string(&self, index: u8) -> Option<String> {
        let names = ["manufacturer", "product", "serial"];
        let i = self.info.string_indices.iter().position(|&i| i == index)?;
        attr(&self.info.usb_dir, names[i])
    }
}

impl Device for HidrawDevice {
    fn identity(&self) -> &Identity {
        &self.info.identity
    }

    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        match self.descriptor_ioctl() {
            Ok(d) => Ok(d),
            Err(e) if is_gone(e) => Err(device_error("HIDIOCGRDESC", e)),
            Err(e) => {
                tracing::debug!("HIDIOCGRDESC: {e}; reading the sysfs copy");
                fs::read(self.info.hid_dir.join("report_descriptor"))
                    .map_err(|e| io_error("report_descriptor", &e))
            }
        }
    }

    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        let mut buf = vec![0u8; len.max(1)];
        buf[0] = id;
        // SAFETY: the ioctl writes at most buf.len() bytes (encoded in the request).
        let n = unsafe { sys::hidiocgfeature(self.file.as_raw_fd(), &mut buf) }
            .map_err(|e| device_error(&format!("GET_REPORT 0x{id:02x}"), e))?;
        let n = usize::try_from(n).unwrap_or(0).min(buf.len());
        if n == 0 {
            return Err(DeviceError::Failed(format!(
                "GET_REPORT 0x{id:02x}: no data"
            )));
        }
        buf.truncate(n);
        Ok(buf)
    }

    fn set_feature(&mut self, report: &[u8]) -> Result<(), DeviceError> {
        let Some(&id) = report.first() else {
            return Err(DeviceError::Failed("empty SET_REPORT".into()));
        };
        let mut buf = report.to_vec();
        // SAFETY: the kernel reads buf.len() bytes (encoded in the request).
        unsafe { sys::hidiocsfeature(self.file.as_raw_fd(), &mut buf) }
            .map_err(|e| device_error(&format!("SET_REPORT 0x{id:02x}"), e))?;
        Ok(())
    }

    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                return Ok(None);
            }
            return Err(device_error("poll", e));
        }
        if r == 0 {
            return Ok(None);
        }
        if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
            && pfd.revents & libc::POLLIN == 0
        {
            return Err(DeviceError::Disconnected("hidraw node hung up".into()));
        }
        let mut buf = vec![0u8; 4096];
        match self.file.read(&mut buf) {
            Ok(0) => Ok(None),
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(io_error("interrupt read", &e)),
        }
    }

    fn string(&mut self, index: u8) -> Result<Option<String>, DeviceError> {
        if index == 0 {
            return Ok(None);
        }
        let langid = match self.langid {
            Some(l) => l,
            None => {
                // String 0 lists the language ids; default to US English.
                let l = self.usbfs_raw_langids().unwrap_or(0x0409);
                self.langid = Some(l);
                l
            }
        };
        match self.usbfs_string(index, langid) {
            Ok(s) => Ok(s),
            Err(e) => {
                if let Some(code) = e.raw_os_error() {
                    let errno = Errno::from_raw(code);
                    // The device itself is gone (not just usbfs unusable).
                    if matches!(errno, Errno::ENODEV | Errno::ESHUTDOWN) {
                        return Err(device_error("string descriptor", errno));
                    }
                }
                tracing::debug!(
                    "usbfs {}: {e}; using the sysfs strings",
                    self.usbfs.display()
                );
                Ok(self.sysfs_string(index))
            }
        }
    }
}

impl HidrawDevice {
    fn usbfs_raw_langids(&self) -> Option<u16> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&self.usbfs)
            .ok()?;
        let mut buf = [0u8; 255];
        let mut ctl = sys::CtrlTransfer {
            request_type: 0x80,
            request: 0x06,
            value: 0x0300,
            index: 0,
            length: buf.len() as u16,
            timeout: CONTROL_TIMEOUT_MS,
            data: buf.as_mut_ptr().cast(),
        };
        // SAFETY: ctl.data points to `buf`, alive and `length` bytes long during the call.
        let n = unsafe { sys::usbdevfs_control(f.as_raw_fd(), &mut ctl) }.ok()?;
        let n = usize::try_from(n).ok()?.min(buf.len());
        (n >= 4 && buf[1] == 0x03).then(|| u16::from_le_bytes([buf[2], buf[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Usb<'a> {
        port: &'a str,
        vid: &'a str,
        pid: &'a str,
        serial: Option<&'a str>,
        devnum: u32,
    }

    /// Builds the sysfs layout of one USB HID device with hidraw node `node`.
    fn add(sys: &Path, node: &str, u: &Usb<'_>) {
        let usb = sys
            .join("devices/pci0000:00/0000:00:14.0/usb1")
            .join(u.port);
        let iface = usb.join(format!("{}:1.0", u.port));
        let hid = iface.join(format!(
            "0003:{}:{}.000{}",
            u.vid.to_uppercase(),
            u.pid.to_uppercase(),
            node.len()
        ));
        let raw = hid.join("hidraw").join(node);
        fs::create_dir_all(&raw).unwrap();
        let w = |dir: &Path, name: &str, text: &str| fs::write(dir.join(name), text).unwrap();
        w(&usb, "idVendor", &format!("{}\n", u.vid));
        w(&usb, "idProduct", &format!("{}\n", u.pid));
        w(&usb, "bcdDevice", "0106\n");
        w(&usb, "manufacturer", "American Power Conversion\n");
        w(
            &usb,
            "product",
            "Back-UPS BK650M2-CH FW:294803G -292804G \n",
        );
        if let Some(s) = u.serial {
            w(&usb, "serial", &format!("{s}\n"));
        }
        w(&usb, "busnum", "1\n");
        w(&usb, "devnum", &format!("{}\n", u.devnum));
        let mut desc = vec![
            18, 1, 0x10, 0x01, 0, 0, 0, 8, 0x1d, 0x05, 0x02, 0, 0x06, 0x01, 1, 2, 3, 1,
        ];
        desc.extend_from_slice(&[9, 2, 34, 0, 1, 1, 0, 0xe0, 1]);
        fs::write(usb.join("descriptors"), desc).unwrap();
        w(&iface, "bInterfaceNumber", "00\n");
        fs::write(hid.join("report_descriptor"), [0x05, 0x84, 0x09, 0x04]).unwrap();
        symlink("../..", raw.join("device")).unwrap();
        let class = sys.join("class/hidraw");
        fs::create_dir_all(&class).unwrap();
        symlink(&raw, class.join(node)).unwrap();
    }

    fn fake() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path().join("sys");
        add(
            &sys,
            "hidraw0",
            &Usb {
                port: "1-4",
                vid: "051d",
                pid: "0002",
                serial: Some("9B2019A14274"),
                devnum: 4,
            },
        );
        add(
            &sys,
            "hidraw10",
            &Usb {
                port: "1-6",
                vid: "046d",
                pid: "c31c",
                serial: None,
                devnum: 9,
            },
        );
        add(
            &sys,
            "hidraw2",
            &Usb {
                port: "1-5",
                vid: "051d",
                pid: "0002",
                serial: Some("3B1234X56789"),
                devnum: 5,
            },
        );
        // A hidraw node that is not USB (i2c-hid touchpad): skipped.
        let i2c = sys.join("devices/platform/i2c/0018:06CB:7E7E.0003/hidraw/hidraw1");
        fs::create_dir_all(&i2c).unwrap();
        symlink("../..", i2c.join("device")).unwrap();
        symlink(&i2c, sys.join("class/hidraw/hidraw1")).unwrap();
        t
    }

    #[test]
    fn discovers_usb_hidraw_nodes() {
        let t = fake();
        let all = discover(&t.path().join("sys"));
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["hidraw0", "hidraw2", "hidraw10"]);
        let ups = &all[0];
        assert_eq!(
            ups.identity,
            Identity {
                vendor_id: 0x051d,
                product_id: 0x0002,
                bcd_device: Some(0x0106),
                manufacturer: Some("American Power Conversion".into()),
                product: Some("Back-UPS BK650M2-CH FW:294803G -292804G ".into()),
                serial: Some("9B2019A14274".into()),
                bus: Some("001".into()),
                device: Some("004".into()),
                port: Some("1-4".into()),
            }
        );
        assert_eq!(ups.interface, Some(0));
        assert_eq!(ups.string_indices, [1, 2, 3]);
        assert!(ups.usb_dir.ends_with("usb1/1-4"));
        assert_eq!(all[2].identity.serial, None);
        // No hidraw class at all.
        assert!(discover(&t.path().join("nothing")).is_empty());
    }

    #[test]
    fn matches_by_ups_conf_options_and_finds_the_same_unit() {
        let t = fake();
        let sys = t.path().join("sys");
        let m = Matcher::new(|k| (k == "vendorid").then_some("051D")).unwrap();
        let names: Vec<String> = find(&sys, &m).into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["hidraw0", "hidraw2"]);
        let m = Matcher::new(|k| match k {
            "vendorid" => Some("051d"),
            "serial" => Some("3b1234.*"),
            _ => None,
        })
        .unwrap();
        let found = find(&sys, &m);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "hidraw2");
        let m = Matcher::new(|k| (k == "busport").then_some("1-4")).unwrap();
        assert_eq!(find(&sys, &m)[0].name, "hidraw0");

        // The unit comes back on another port, with another node and device number.
        let before = found[0].identity.clone();
        let t2 = tempfile::tempdir().unwrap();
        let sys2 = t2.path().join("sys");
        add(
            &sys2,
            "hidraw0",
            &Usb {
                port: "1-4",
                vid: "051d",
                pid: "0002",
                serial: Some("9B2019A14274"),
                devnum: 4,
            },
        );
        add(
            &sys2,
            "hidraw7",
            &Usb {
                port: "1-3",
                vid: "051d",
                pid: "0002",
                serial: Some("3B1234X56789"),
                devnum: 12,
            },
        );
        let again = find_same(&sys2, &before).unwrap();
        assert_eq!(again.name, "hidraw7");
        assert_eq!(again.identity.device.as_deref(), Some("012"));
        // No serial: same port needed.
        let keyboard = discover(&sys)[2].identity.clone();
        assert!(find_same(&sys2, &keyboard).is_none());
    }

    #[test]
    fn open_falls_back_to_sysfs() {
        let t = fake();
        let sys = t.path().join("sys");
        let dev = t.path().join("dev");
        fs::create_dir_all(&dev).unwrap();
        // A plain file stands for the node: every ioctl fails with ENOTTY.
        fs::write(dev.join("hidraw0"), [0x16, 0x0e, 0x00]).unwrap();
        let info = discover(&sys).remove(0);
        let mut d = HidrawDevice::open(&info, &dev).unwrap();
        assert_eq!(d.report_descriptor().unwrap(), vec![0x05, 0x84, 0x09, 0x04]);
        assert!(matches!(
            d.get_feature(0x0c, 2),
            Err(DeviceError::Failed(_))
        ));
        assert!(matches!(
            d.set_feature(&[0x15, 0, 0]),
            Err(DeviceError::Failed(_))
        ));
        assert_eq!(
            d.string(1).unwrap().as_deref(),
            Some("American Power Conversion")
        );
        assert_eq!(d.string(3).unwrap().as_deref(), Some("9B2019A14274"));
        assert_eq!(d.string(4).unwrap(), None);
        assert_eq!(
            d.read_interrupt(Duration::from_millis(10)).unwrap(),
            Some(vec![0x16, 0x0e, 0x00])
        );
        // A node that is gone.
        let info2 = discover(&sys).remove(1);
        assert!(matches!(
            HidrawDevice::open(&info2, &dev),
            Err(DeviceError::Disconnected(_))
        ));
    }

    #[test]
    fn errno_mapping_and_string_descriptors() {
        assert!(matches!(
            device_error("x", Errno::ENODEV),
            DeviceError::Disconnected(_)
        ));
        assert!(matches!(
            device_error("x", Errno::EIO),
            DeviceError::Disconnected(_)
        ));
        assert!(matches!(
            device_error("x", Errno::ENOENT),
            DeviceError::Disconnected(_)
        ));
        assert!(matches!(
            device_error("x", Errno::EPIPE),
            DeviceError::Failed(_)
        ));
        assert!(matches!(
            device_error("x", Errno::ETIMEDOUT),
            DeviceError::Failed(_)
        ));
        assert_eq!(
            decode_string_descriptor(&[10, 3, b'P', 0, b'b', 0, b'A', 0, b'c', 0, 0xff]).as_deref(),
            Some("PbAc")
        );
        // bLength longer than what came: cut to what came.
        assert_eq!(
            decode_string_descriptor(&[20, 3, b'P', 0]).as_deref(),
            Some("P")
        );
        assert_eq!(decode_string_descriptor(&[4, 2, 0, 0]), None);
        assert_eq!(decode_string_descriptor(&[2]), None);
        assert_eq!(decode_string_descriptor(&[2, 3]).as_deref(), Some(""));
    }
}
