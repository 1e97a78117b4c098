//! The guest's own set-up before the checks: the kernel modules of the USB stack under test,
//! and udevd applying this repository's rule (`conf/udev/62-nut-rs-usbups.rules`) to the
//! nodes the emulated unit gets.

use std::path::Path;
use std::process::Command;

/// Where udevd reads rules at run time (the host's root is read-only in the guest).
const RUN_RULES: &str = "/run/udev/rules.d";

/// Load vhci-hcd, usbhid and hid-generic, and start udevd with our rule; the reason when
/// something of it fails.
pub(crate) fn prepare() -> Result<(), String> {
    // (nothing brings up loopback in this guest; upsd and its clients need it)
    run("ip", &["link", "set", "lo", "up"]).map_err(|e| format!("loopback: {e}"))?;
    for m in ["vhci-hcd", "usbhid", "hid-generic"] {
        run("modprobe", &[m]).map_err(|e| format!("cannot load module {m}: {e}"))?;
    }
    if !Path::new("/sys/devices/platform/vhci_hcd.0").exists() {
        return Err("vhci-hcd loaded but /sys/devices/platform/vhci_hcd.0 is missing".into());
    }
    std::fs::create_dir_all(RUN_RULES).map_err(|e| format!("{RUN_RULES}: {e}"))?;
    let rule = nut_test_support::tests_dir().join("../conf/udev/62-nut-rs-usbups.rules");
    std::fs::copy(&rule, Path::new(RUN_RULES).join("62-nut-rs-usbups.rules"))
        .map_err(|e| format!("copying {}: {e}", rule.display()))?;
    run("/lib/systemd/systemd-udevd", &["--daemon"]).map_err(|e| format!("udevd: {e}"))?;
    Ok(())
}

/// Run `program` to completion; its stderr when it fails.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {} {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Wait for udev to have handled every event so far.
pub(crate) fn udev_settle() {
    let _ = run("udevadm", &["settle", "--timeout=10"]);
}
