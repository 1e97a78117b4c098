//! Real hardware on Linux through the kernel's hidraw nodes: the usbhid driver stays attached
//! (nothing is detached or claimed), so other programs keep working and a driver crash cannot
//! leave the UPS unbound.
//!
//! * [`units`]: the USB devices with a HID interface and its state (usbhid and a hidraw node,
//!   no driver, claimed through usbfs), the processes holding a usbfs node, and the messages
//!   that name a unit that cannot be used and what to do; [`plug`]: from the ups.conf options
//!   to an open node, usbhid bound again (as root) to an interface libusb left without one;
//!   [`binder`]: the root process left behind to bind it once a program holding the unit
//!   lets go.
//! * [`sysfs`]: a hidraw node's HID and USB directories and identity.
//! * [`HidrawDevice`]: `/dev/hidrawN`; report descriptor by `HIDIOCGRDESC` (else the sysfs
//!   `report_descriptor` file); GET/SET_REPORT(Feature) by `HIDIOCGFEATURE`/`HIDIOCSFEATURE`;
//!   interrupt-IN reports by `read()` after `poll()` ([`hidraw`]). An OS error is kept in the
//!   [`DeviceError`]; ENODEV/ENOENT/EIO/ESHUTDOWN/ENXIO (the unit was unplugged) mark it gone,
//!   anything else (EPIPE = STALL, timeouts) fails only that request.
//! * String descriptors by index through usbfs ([`usbfs`]), and when usbfs cannot be used, the
//!   sysfs `manufacturer`/`product`/`serial` files for the indices the sysfs `descriptors` file
//!   names.

pub(crate) mod binder;
mod hidraw;
mod plug;
mod sysfs;
mod units;
mod usbfs;

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;

use crate::device::{Device, DeviceError, Identity};
pub(crate) use plug::{Plug, Refusal};
pub(crate) use sysfs::HidrawInfo;
pub(crate) use units::{Problem, State, UsbUnit};

/// Where sysfs and /dev normally are.
pub(crate) const SYSFS: &str = "/sys";
pub(crate) const DEV: &str = "/dev";

/// Errors that mean the unit is gone.
fn is_gone(e: Errno) -> bool {
    matches!(
        e,
        Errno::ENODEV | Errno::ENOENT | Errno::EIO | Errno::ESHUTDOWN | Errno::ENXIO
    )
}

/// The device error for a system error of `call`, the OS error kept.
fn device_error(call: &str, errno: Errno) -> DeviceError {
    DeviceError::Os {
        call: call.to_string(),
        errno,
        gone: is_gone(errno),
    }
}

fn io_error(call: &str, e: &io::Error) -> DeviceError {
    device_error(call, Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// Opens a device node read-write, close-on-exec.
fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// An open hidraw node.
#[derive(Debug)]
pub(crate) struct HidrawDevice {
    file: File,
    info: HidrawInfo,
    usbfs: PathBuf,
    /// Language id for string requests, learned from string descriptor 0.
    langid: Option<u16>,
}

impl HidrawDevice {
    /// Opens `<dev>/<info.name>` (and will use `<dev>/bus/usb/BBB/DDD` for strings).
    pub(crate) fn open(info: &HidrawInfo, dev: &Path) -> Result<Self, DeviceError> {
        let node = dev.join(&info.name);
        let file = open_rw(&node).map_err(|e| io_error(&format!("open {}", node.display()), &e))?;
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

    /// The string from sysfs, for the three indices the device descriptor names.
    fn sysfs_string(&self, index: u8) -> Option<String> {
        let names = ["manufacturer", "product", "serial"];
        let i = self.info.string_indices.iter().position(|&i| i == index)?;
        sysfs::attr(&self.info.usb_dir, names[i])
    }

    /// String `index` through usbfs, in the device's first language (US English if it names
    /// none).
    fn usbfs_string(&mut self, index: u8) -> Result<Option<String>, Errno> {
        let f = open_rw(&self.usbfs)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let langid = match self.langid {
            Some(l) => l,
            None => {
                let l = usbfs::first_langid(f.as_fd())
                    .ok()
                    .flatten()
                    .unwrap_or(0x0409);
                self.langid = Some(l);
                l
            }
        };
        usbfs::string(f.as_fd(), index, langid)
    }
}

impl Device for HidrawDevice {
    fn identity(&self) -> &Identity {
        &self.info.identity
    }

    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        match hidraw::report_descriptor(self.file.as_fd()) {
            Ok(d) => Ok(d),
            Err(e) if is_gone(e) => Err(device_error("HIDIOCGRDESC", e)),
            Err(e) => {
                tracing::debug!("HIDIOCGRDESC: {e}; reading the sysfs copy");
                std::fs::read(self.info.hid_dir.join("report_descriptor"))
                    .map_err(|e| io_error("report_descriptor", &e))
            }
        }
    }

    fn get_feature(&mut self, id: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        let mut buf = vec![0u8; len.max(1)];
        buf[0] = id;
        let n = hidraw::get_feature(self.file.as_fd(), &mut buf)
            .map_err(|e| device_error(&format!("GET_REPORT 0x{id:02x}"), e))?;
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
        hidraw::set_feature(self.file.as_fd(), &mut report.to_vec())
            .map_err(|e| device_error(&format!("SET_REPORT 0x{id:02x}"), e))
    }

    fn event_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.file.as_fd())
    }

    fn read_interrupt(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, DeviceError> {
        match hidraw::wait_readable(self.file.as_fd(), timeout) {
            Ok(hidraw::Ready::Readable) => {}
            Ok(hidraw::Ready::Nothing) => return Ok(None),
            Ok(hidraw::Ready::HungUp) => {
                return Err(DeviceError::Disconnected("hidraw node hung up".into()))
            }
            Err(e) => return Err(device_error("poll", e)),
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
        match self.usbfs_string(index) {
            Ok(s) => Ok(s),
            // The device itself is gone (not just usbfs unusable).
            Err(e @ (Errno::ENODEV | Errno::ESHUTDOWN)) => {
                Err(device_error("string descriptor", e))
            }
            Err(e) => {
                tracing::debug!(
                    "usbfs {}: {e}; using the sysfs strings",
                    self.usbfs.display()
                );
                Ok(self.sysfs_string(index))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sysfs::discover;
    use super::usbfs::decode_string_descriptor;
    use super::*;
    use crate::fixtures::{bk650m2, sysfs, BK650M2_ON_1_4, BK650M2_ON_1_5, MOUSE_ON_1_6};
    use std::fs;
    use std::os::unix::fs::symlink;

    fn fake() -> tempfile::TempDir {
        let t = sysfs(&[
            ("hidraw0", BK650M2_ON_1_4),
            ("hidraw10", MOUSE_ON_1_6),
            ("hidraw2", BK650M2_ON_1_5),
        ]);
        let sys = t.path().join("sys");
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
        assert_eq!(ups.identity, bk650m2());
        assert_eq!(ups.interface, Some(0));
        assert_eq!(ups.string_indices, [1, 2, 3]);
        assert!(ups.usb_dir.ends_with("usb1/1-4"));
        assert_eq!(all[2].identity.serial, None);
        // No hidraw class at all.
        assert!(discover(&t.path().join("nothing")).is_empty());
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
            Err(DeviceError::Os {
                errno: Errno::ENOTTY,
                gone: false,
                ..
            })
        ));
        assert!(d.set_feature(&[0x15, 0, 0]).is_err_and(|e| !e.is_gone()));
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
        let gone = HidrawDevice::open(&info2, &dev).unwrap_err();
        assert!(gone.is_gone());
        assert_eq!(
            gone.to_string(),
            format!(
                "device disconnected: open {}: ENOENT: No such file or directory",
                dev.join(&info2.name).display()
            )
        );
    }

    #[test]
    fn errno_mapping_and_string_descriptors() {
        for gone in [Errno::ENODEV, Errno::EIO, Errno::ENOENT] {
            assert!(device_error("x", gone).is_gone(), "{gone}");
        }
        for failed in [Errno::EPIPE, Errno::ETIMEDOUT] {
            assert!(!device_error("x", failed).is_gone(), "{failed}");
        }
        // The OS error is kept as the source.
        let e = device_error("GET_REPORT 0x0c", Errno::EPIPE);
        assert_eq!(
            e.to_string(),
            "request failed: GET_REPORT 0x0c: EPIPE: Broken pipe"
        );
        let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<Errno>());
        assert_eq!(source, Some(&Errno::EPIPE));
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
