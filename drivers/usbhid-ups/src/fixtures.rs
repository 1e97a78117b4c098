//! What the unit tests share about the Back-UPS BK650M2-CH the recordings come from: its
//! recording (`tests/data`) and its identity as Linux shows it on the bus.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use crate::device::Identity;

/// The BK650M2-CH recording.
pub(crate) const BK650: &str = include_str!("../tests/data/back-ups-bk650m2-ch.recording.toml");

/// The BK650M2-CH on port 1-4 (bus 1, device 4), with the product string its firmware gives
/// and the serial number trimmed.
pub(crate) fn bk650m2() -> Identity {
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
}

/// A USB device with a HID interface, as the fake sysfs trees of the tests show it.
pub(crate) struct Usb<'a> {
    pub(crate) port: &'a str,
    pub(crate) vid: &'a str,
    pub(crate) pid: &'a str,
    pub(crate) serial: Option<&'a str>,
    pub(crate) devnum: u32,
}

/// The unit of [`bk650m2`], as the sysfs tree shows it.
pub(crate) const BK650M2_ON_1_4: Usb<'static> = Usb {
    port: "1-4",
    vid: "051d",
    pid: "0002",
    serial: Some("9B2019A14274"),
    devnum: 4,
};

/// A second BK650M2-CH, on port 1-5 (bus 1, device 5), serial 3B1234X56789.
pub(crate) const BK650M2_ON_1_5: Usb<'static> = Usb {
    port: "1-5",
    vid: "051d",
    pid: "0002",
    serial: Some("3B1234X56789"),
    devnum: 5,
};

/// A USB mouse on port 1-6 (a HID device that is no UPS).
pub(crate) const MOUSE_ON_1_6: Usb<'static> = Usb {
    port: "1-6",
    vid: "046d",
    pid: "c31c",
    serial: None,
    devnum: 9,
};

/// Builds the sysfs layout of one USB HID device with hidraw node `node`.
pub(crate) fn add(sys: &Path, node: &str, u: &Usb<'_>) {
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
    w(&iface, "bInterfaceClass", "03\n");
    let drivers = sys.join("bus/usb/drivers");
    fs::create_dir_all(drivers.join("usbhid")).unwrap();
    fs::create_dir_all(drivers.join("usbfs")).unwrap();
    let devices = sys.join("bus/usb/devices");
    fs::create_dir_all(&devices).unwrap();
    for (link, target) in [
        (devices.join(u.port), usb),
        (devices.join(format!("{}:1.0", u.port)), iface.clone()),
        (iface.join("driver"), drivers.join("usbhid")),
    ] {
        if fs::symlink_metadata(&link).is_err() {
            symlink(target, link).unwrap();
        }
    }
    fs::write(hid.join("report_descriptor"), [0x05, 0x84, 0x09, 0x04]).unwrap();
    symlink("../..", raw.join("device")).unwrap();
    let class = sys.join("class/hidraw");
    fs::create_dir_all(&class).unwrap();
    symlink(&raw, class.join(node)).unwrap();
}

/// A temporary directory whose `sys` holds these hidraw nodes, in this order.
pub(crate) fn sysfs(nodes: &[(&str, Usb<'_>)]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for (node, usb) in nodes {
        add(&t.path().join("sys"), node, usb);
    }
    t
}

/// The interface of the device on `port` loses its driver and its hidraw nodes, as after
/// stock usbhid-ups (libusb) detached usbhid and exited.
pub(crate) fn unbind(sys: &Path, port: &str) {
    let iface = sys.join("bus/usb/devices").join(format!("{port}:1.0"));
    let _ = fs::remove_file(iface.join("driver"));
    for e in fs::read_dir(&iface).unwrap().flatten() {
        let raw = e.path().join("hidraw");
        if let Ok(nodes) = fs::read_dir(&raw) {
            for n in nodes.flatten() {
                let _ = fs::remove_file(sys.join("class/hidraw").join(n.file_name()));
            }
            fs::remove_dir_all(&raw).unwrap();
        }
    }
}

/// The interface of the device on `port` is claimed through usbfs (a libusb program holds it).
pub(crate) fn claim(sys: &Path, port: &str) {
    unbind(sys, port);
    let iface = sys.join("bus/usb/devices").join(format!("{port}:1.0"));
    symlink(sys.join("bus/usb/drivers/usbfs"), iface.join("driver")).unwrap();
}
