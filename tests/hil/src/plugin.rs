//! First plug-in and migration from stock NUT on the real kernel (issue 15), each with the
//! exact line our driver logs: after stock usbhid-ups ran and exited (libusb left the unit's
//! interface without a driver), ours binds usbhid again before it drops root and takes the
//! unit at start-up; with stock still running, ours names it and its PID, and takes the unit
//! once stock stops (its binder, left with root, binds usbhid), with no restart; a hidraw
//! node it may not open is named with its owner, mode, our user and the udev rule; two units
//! with different serials: the ups.conf that matches both is refused with both listed (stock
//! would take the first), `serial =` chooses either.
//!
//! Run for the first recording only (`hil-guest --plugin`): they are about the kernel and the
//! migration, not the unit.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nut_test_support::daemon::wait_for;
use nut_test_support::our_bin;
use nut_test_support::usbhid::DRIVER;
use nut_test_support::StockNut;

use crate::checks::{get, nut_gid, nut_uid, vendor_of, Setup, Which};
use crate::emulator::Emulator;
use crate::Runner;

/// A sysfs attribute, without its newline.
fn attr(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .trim_end_matches('\n')
        .to_string()
}

/// A USB device as the driver's messages name it, read from its sysfs directory.
fn label(usb: &Path) -> String {
    let num = |f: &str| format!("{:03}", attr(usb, f).trim().parse::<u32>().unwrap());
    let serial = attr(usb, "serial");
    let serial = if serial.trim().is_empty() {
        "no serial".to_string()
    } else {
        format!("serial {:?}", serial.trim())
    };
    format!(
        "USB device {}:{} {serial} on bus {} port {} (device {})",
        attr(usb, "idVendor"),
        attr(usb, "idProduct"),
        num("busnum"),
        usb.file_name().unwrap().to_string_lossy(),
        num("devnum")
    )
}

/// The unit's HID interface (`1-1:1.0`).
fn interface(usb: &Path) -> String {
    format!("{}:1.0", usb.file_name().unwrap().to_string_lossy())
}

/// `/dev/bus/usb/BBB/DDD` of the unit.
fn usbfs_node(usb: &Path) -> PathBuf {
    let num = |f: &str| format!("{:03}", attr(usb, f).trim().parse::<u32>().unwrap());
    PathBuf::from(format!("/dev/bus/usb/{}/{}", num("busnum"), num("devnum")))
}

/// The message of a log line (`<time>  WARN <message>`) at `level`.
fn logged(log: &str, level: &str, message: &str) -> bool {
    let marker = format!(" {level} ");
    log.lines()
        .any(|l| l.split_once(&marker).is_some_and(|(_, m)| m == message))
}

/// Wait until the driver of `s` has logged `message` at `level`.
fn wait_logged(s: &Setup, level: &str, message: &str, timeout: Duration) {
    wait_for(
        &format!("the driver to log: {level} {message}"),
        timeout,
        |last| {
            let log = s.dir.log("driver.log");
            *last = log.clone();
            logged(&log, level, message).then_some(())
        },
    );
}

/// The line our driver logs when it binds usbhid to an interface left without a driver.
fn bound_line(usb: &Path, node: &Path) -> String {
    format!(
        "{}: interface {} had no kernel driver (a libusb program such as stock usbhid-ups \
         detached usbhid and left it so): bound usbhid to it, {} is there",
        label(usb),
        interface(usb),
        node.display()
    )
}

/// What our driver logs while stock's driver (`pid`) holds the unit at `usb`.
fn claimed_by_stock(usb: &Path, pid: u32) -> String {
    format!(
        "{}: interface {} is claimed by another program (driver usbfs): {} is open in \
         usbhid-ups (PID {pid}); stop stock NUT's driver (upsdrvctl stop, or systemctl \
         stop nut-driver.target); retrying until it is released",
        label(usb),
        interface(usb),
        usbfs_node(usb).display()
    )
}

/// The driver of `s` may write its socket as `nut` (as in /run/nut).
fn as_nut(s: &Setup) {
    std::os::unix::fs::chown(s.dir.state(), Some(nut_uid()), Some(nut_gid())).unwrap();
}

/// The name of the driver bound to the unit's HID interface, if any.
fn iface_driver(usb: &Path) -> Option<String> {
    std::fs::read_link(usb.join(interface(usb)).join("driver"))
        .ok()
        .and_then(|l| l.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Stock usbhid-ups holding a fresh unit (libusb detached usbhid and claimed the interface
/// through usbfs): the unit, its USB directory, stock's set-up (its driver running).
fn stock_holding(stock: &StockNut, recording: &Path, dir: &Path) -> (Emulator, PathBuf, Setup) {
    let emu = Emulator::attach(recording, dir);
    let (_, usb) = emu.hidraw().unwrap();
    let mut st = Setup::new(vendor_of(recording), "");
    st.spawn(&Which::Stock.driver(stock), &["-u", "root"]);
    wait_for(
        "stock's libusb to claim the interface",
        Duration::from_secs(30),
        |last| {
            *last = format!("{:?}\n{}", iface_driver(&usb), st.dir.log("driver.log"));
            (iface_driver(&usb).as_deref() == Some("usbfs")).then_some(())
        },
    );
    assert!(
        emu.hidraw().is_none(),
        "a hidraw node while stock holds the unit"
    );
    (emu, usb, st)
}

/// Every check of this module.
pub(crate) fn run(r: &mut Runner, stock: &StockNut, recording: &Path, work: &Path) {
    let vendor = vendor_of(recording);
    r.check(
        "after stock usbhid-ups ran and exited: ours binds usbhid again and takes the unit at start-up",
        || {
            let (emu, usb, mut st) = stock_holding(stock, recording, &work.join("after-stock"));
            st.stop();
            wait_for(
                "the kernel to release stock's claim",
                Duration::from_secs(10),
                |last| {
                    *last = format!("{:?}", iface_driver(&usb));
                    iface_driver(&usb).is_none().then_some(())
                },
            );
            assert!(emu.hidraw().is_none(), "a hidraw node after stock: nothing to prove");
            let mut s = Setup::new(vendor, "");
            // as root, dropping to nut (no -u): it binds before it drops root
            as_nut(&s);
            s.start(&our_bin(DRIVER), &[]);
            let (node, _) = emu.hidraw().unwrap();
            let log = s.dir.log("driver.log");
            assert!(
                logged(&log, "WARN", &bound_line(&usb, &node)),
                "no line: {}\n{log}",
                bound_line(&usb, &node)
            );
        },
    );
    r.check(
        "stock usbhid-ups still running: ours names it and its PID, then takes the unit when it stops",
        || {
            let (emu, usb, mut st) = stock_holding(stock, recording, &work.join("stock-running"));
            let pid = st.driver.as_ref().unwrap().pid();
            let mut s = Setup::new(vendor, "");
            // as root, dropping to nut: a binder keeps root to bind usbhid once stock stops
            as_nut(&s);
            s.spawn(&our_bin(DRIVER), &[]);
            let claimed = claimed_by_stock(&usb, pid);
            wait_logged(&s, "ERROR", &claimed, Duration::from_secs(30));
            st.stop();
            s.wait_fresh(Duration::from_secs(60));
            let (node, _) = emu.hidraw().unwrap();
            let log = s.dir.log("driver.log");
            for line in [
                bound_line(&usb, &node),
                format!("{}: free now, reading it", label(&usb)),
            ] {
                assert!(logged(&log, "WARN", &line), "no line: {line}\n{log}");
            }
        },
    );
    r.check(
        "as under systemd: `--prepare` as root while stock runs leaves the binder; ours, run as nut, takes the unit once stock stops, with no restart",
        || {
            let (emu, usb, mut st) = stock_holding(stock, recording, &work.join("stock-prepare"));
            let pid = st.driver.as_ref().unwrap().pid();
            let mut s = Setup::new(vendor, "");
            as_nut(&s);
            // the unit's privileged pre-start (`upsdrvctl prepare`): done at once
            let prepare = s
                .dir
                .command(&our_bin(DRIVER), "prepare.log")
                .args(["-a", "ups", "--prepare"])
                .status()
                .unwrap();
            let claimed = claimed_by_stock(&usb, pid);
            let log = s.dir.log("prepare.log");
            assert!(prepare.success(), "{prepare}\n{log}");
            assert!(logged(&log, "ERROR", &claimed), "no line: {claimed}\n{log}");
            s.spawn_as(&our_bin(DRIVER), &[], Some((nut_uid(), nut_gid())));
            // as nut, /proc does not show root's programs' open files
            let unseen = format!(
                "{}: interface {} is claimed by another program (driver usbfs): no process \
                 this driver may see has {node} open (as root: fuser -v {node}); stop that \
                 program; retrying until it is released",
                label(&usb),
                interface(&usb),
                node = usbfs_node(&usb).display()
            );
            wait_logged(&s, "ERROR", &unseen, Duration::from_secs(30));
            st.stop();
            s.wait_fresh(Duration::from_secs(60));
            let (node, _) = emu.hidraw().unwrap();
            // the binder's line goes where the pre-start's output went
            let bound = bound_line(&usb, &node);
            wait_for("the binder's line", Duration::from_secs(10), |_| {
                logged(&s.dir.log("prepare.log"), "WARN", &bound).then_some(())
            });
            let log = s.dir.log("driver.log");
            let free = format!("{}: free now, reading it", label(&usb));
            assert!(logged(&log, "WARN", &free), "no line: {free}\n{log}");
            assert!(!log.contains("needs root"), "{log}");
        },
    );
    r.check(
        "a hidraw node the nut user may not open: named with owner, mode, user and the udev rule; taken once the rule applies",
        || {
            let emu = Emulator::attach(recording, &work.join("perm-unit"));
            let (node, usb) = emu.hidraw().unwrap();
            let nut_gid = nut_gid();
            // udev first gives it to nut (our rule); then it is as without the rule
            wait_for("udev to give the node to nut", Duration::from_secs(15), |_| {
                let m = std::fs::metadata(&node).ok()?;
                (m.gid() == nut_gid).then_some(())
            });
            std::os::unix::fs::chown(&node, Some(0), Some(0)).unwrap();
            std::fs::set_permissions(
                &node,
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
            let mut s = Setup::new(vendor, "");
            as_nut(&s);
            s.spawn(&our_bin(DRIVER), &[]);
            let line = format!(
                "{}: cannot open {}: permission denied: it is root:root mode 0600 and this \
                 driver runs as nut (uid {}, gid {nut_gid}); the udev rule nut-rs ships gives \
                 the node to group nut: the package installs it as \
                 /lib/udev/rules.d/62-nut-rs-usbups.rules (from the source: copy \
                 conf/udev/62-nut-rs-usbups.rules to /etc/udev/rules.d/), then run: udevadm \
                 control --reload \
                 && udevadm trigger (or unplug and replug the unit); retrying",
                label(&usb),
                node.display(),
                nut_uid()
            );
            wait_logged(&s, "ERROR", &line, Duration::from_secs(30));
            // what the message offers: replug; udev applies the rule to the new node
            emu.ctl("unplug");
            emu.wait_hidraw(false);
            emu.ctl("replug");
            emu.wait_hidraw(true);
            let (_, usb) = emu.hidraw().unwrap();
            s.wait_fresh(Duration::from_secs(60));
            let log = s.dir.log("driver.log");
            let free = format!("{}: free now, reading it", label(&usb));
            assert!(logged(&log, "WARN", &free), "no line: {free}\n{log}");
        },
    );
    r.check(
        "two units, different serials: a section matching both is refused with both listed; serial = takes either",
        || {
            let a = Emulator::attach(recording, &work.join("two-a"));
            let b = Emulator::attach(recording, &work.join("two-b"));
            let other = "OTHER0000002";
            // both on the bus with their hidraw node, in (bus, device) order
            let both = |serial: Option<&str>| {
                wait_for("two units with hidraw nodes", Duration::from_secs(30), |last| {
                    let u = vhci_units();
                    *last = format!("{u:?}\n{}{}", a.output(), b.output());
                    (u.len() == 2
                        && u.iter().all(|(_, _, raw)| *raw)
                        && serial.is_none_or(|s| u.iter().any(|(_, us, _)| us == s)))
                    .then_some(u)
                })
            };
            both(None);
            b.ctl(&format!("replug serial {other}"));
            let units = both(Some(other));
            crate::guest::udev_settle();
            let serials: Vec<&str> = units.iter().map(|(_, s, _)| s.as_str()).collect();
            assert!(serials.contains(&other), "{serials:?}");
            let mut s = Setup::new(vendor, "");
            s.spawn(&our_bin(DRIVER), &["-u", "root"]);
            let driver = s.driver.as_mut().unwrap();
            let status = wait_for("the driver to stop", Duration::from_secs(30), |_| {
                driver.exited()
            });
            assert!(!status.success(), "{status}");
            let several = format!(
                "ups.conf matches 2 units, taking none: {}; {} (set serial or busport to \
                 choose one)",
                label(&units[0].0),
                label(&units[1].0)
            );
            let log = s.dir.log("driver.log");
            assert!(logged(&log, "WARN", &several), "no line: {several}\n{log}");
            assert_eq!(
                get(s.dir.port, "GET VAR ups ups.status"),
                "ERR DRIVER-NOT-CONNECTED\n"
            );
            s.stop();
            let mut s = Setup::new(vendor, &format!("\tserial = {}\n", units[0].1));
            s.start(&our_bin(DRIVER), &["-u", "root"]);
            assert_eq!(
                get(s.dir.port, "GET VAR ups ups.serial"),
                format!("VAR ups ups.serial \"{}\"\n", units[0].1)
            );
            s.stop();
            let mut s = Setup::new(vendor, &format!("\tserial = {}\n", units[1].1));
            s.start(&our_bin(DRIVER), &["-u", "root"]);
            assert_eq!(
                get(s.dir.port, "GET VAR ups ups.serial"),
                format!("VAR ups ups.serial \"{}\"\n", units[1].1)
            );
            let log = s.dir.log("driver.log");
            assert!(!log.contains("ups.conf matches"), "{log}");
        },
    );
}

/// The USB devices on vhci-hcd: directory, serial, whether a hidraw node is on it; in (bus,
/// device number) order.
fn vhci_units() -> Vec<(PathBuf, String, bool)> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/bus/usb/devices") else {
        return found;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.contains(':') || name.starts_with("usb") {
            continue;
        }
        let Ok(usb) = std::fs::canonicalize(e.path()) else {
            continue;
        };
        if !usb.to_string_lossy().contains("vhci_hcd") {
            continue;
        }
        let iface = usb.join(format!("{name}:1.0"));
        let raw = std::fs::read_dir(&iface)
            .map(|rd| rd.flatten().any(|h| h.path().join("hidraw").is_dir()))
            .unwrap_or(false);
        found.push((usb.clone(), attr(&usb, "serial").trim().to_string(), raw));
    }
    let key = |u: &PathBuf| {
        let n = |f: &str| attr(u, f).trim().parse::<u32>().unwrap_or(u32::MAX);
        (n("busnum"), n("devnum"))
    };
    found.sort_by_key(|(u, _, _)| key(u));
    found
}
